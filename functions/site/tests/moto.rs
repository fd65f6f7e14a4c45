//! The site resource as CloudFormation drives it, on moto's S3: a Create fills the bucket
//! with the files of `web/` (each with its Content-Type and Cache-Control) and removes a
//! stray object, and a Delete empties it; each answer arrives at the response URL (a real
//! local HTTP server standing in for CloudFormation's pre-signed URL). Skipped without
//! `VETTED_TEST_AWS_ENDPOINT`, failed under `VETTED_TEST_REQUIRE_AWS=1`.

// Test code may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::put;
use serde_json::{Value, json};
use site::custom_resource::Request;
use vetted_aws::config::AwsContext;

type Answers = Arc<Mutex<Vec<Value>>>;

/// A local server that keeps every body PUT to it, and its URL.
async fn response_url() -> (String, Answers) {
    let answers: Answers = Arc::default();
    let app = Router::new()
        .route(
            "/answer",
            put(|State(answers): State<Answers>, body: Bytes| async move {
                answers
                    .lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
            }),
        )
        .with_state(Arc::clone(&answers));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/answer", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, answers)
}

fn request(kind: &str, bucket: &str, url: &str) -> Request {
    let mut event = json!({
        "RequestType": kind,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/vetted/guid",
        "RequestId": format!("{kind}-1"),
        "LogicalResourceId": "SiteContent",
        "ResourceProperties": {"Bucket": bucket, "Version": "1"}
    });
    if kind != "Create" {
        event["PhysicalResourceId"] = json!(format!("s3://{bucket}"));
    }
    serde_json::from_value(event).unwrap()
}

async fn keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let listed = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    let mut keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_fills_the_site_bucket_with_web_and_delete_empties_it() {
    let Some(endpoint) = vetted_contract::emulator::aws_endpoint() else {
        return;
    };
    let ctx = AwsContext::builder()
        .endpoint_url(&endpoint)
        .region("us-east-1")
        .static_credentials("test", "test")
        .load()
        .await;
    let s3 = ctx.s3();
    let http = site::http_client().unwrap();
    let bucket = format!("site-{}", std::process::id());
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    s3.put_object()
        .bucket(&bucket)
        .key("assets/gone.js")
        .body(Vec::from(&b"old"[..]).into())
        .send()
        .await
        .unwrap();
    let (url, answers) = response_url().await;

    let sent = site::handle(&s3, &http, &request("Create", &bucket, &url), "stream")
        .await
        .unwrap();
    let mut expected: Vec<String> = site::objects::site_objects()
        .into_iter()
        .map(|o| o.key)
        .collect();
    expected.sort();
    assert_eq!(
        keys(&s3, &bucket).await,
        expected,
        "the stray object is gone"
    );
    let index = s3
        .get_object()
        .bucket(&bucket)
        .key("index.html")
        .send()
        .await
        .unwrap();
    assert_eq!(index.content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(index.cache_control(), Some("no-cache"));
    let body = index.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], vetted_web::PAGES[0].body.as_bytes());
    let script = s3
        .head_object()
        .bucket(&bucket)
        .key("assets/owner.js")
        .send()
        .await
        .unwrap();
    assert_eq!(
        script.content_type(),
        Some("text/javascript; charset=utf-8")
    );

    let delete = site::handle(&s3, &http, &request("Delete", &bucket, &url), "stream")
        .await
        .unwrap();
    assert!(
        keys(&s3, &bucket).await.is_empty(),
        "Delete empties the bucket"
    );
    s3.delete_bucket().bucket(&bucket).send().await.unwrap();
    // CloudFormation may send Delete again after a rollback; the bucket is gone by then.
    let again = site::handle(&s3, &http, &request("Delete", &bucket, &url), "stream")
        .await
        .unwrap();

    let answers = answers.lock().unwrap().clone();
    assert_eq!(
        answers,
        [
            serde_json::to_value(&sent).unwrap(),
            serde_json::to_value(&delete).unwrap(),
            serde_json::to_value(&again).unwrap()
        ]
    );
    for answer in &answers {
        assert_eq!(answer["Status"], "SUCCESS", "{answer}");
        assert_eq!(answer["PhysicalResourceId"], format!("s3://{bucket}"));
    }
    assert_eq!(answers[0]["RequestId"], "Create-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_cannot_write_answers_failed_with_the_reason() {
    let Some(endpoint) = vetted_contract::emulator::aws_endpoint() else {
        return;
    };
    let ctx = AwsContext::builder()
        .endpoint_url(&endpoint)
        .region("us-east-1")
        .static_credentials("test", "test")
        .load()
        .await;
    let http = site::http_client().unwrap();
    let (url, answers) = response_url().await;
    let missing = format!("no-such-site-{}", std::process::id());
    let sent = site::handle(
        &ctx.s3(),
        &http,
        &request("Create", &missing, &url),
        "stream-7",
    )
    .await
    .unwrap();
    assert_eq!(answers.lock().unwrap().len(), 1);
    let answer = &answers.lock().unwrap()[0];
    assert_eq!(answer["Status"], "FAILED");
    let reason = answer["Reason"].as_str().unwrap();
    assert!(
        reason.contains(&missing) && reason.contains("stream-7"),
        "{reason}"
    );
    assert_eq!(serde_json::to_value(&sent).unwrap(), *answer);
}
