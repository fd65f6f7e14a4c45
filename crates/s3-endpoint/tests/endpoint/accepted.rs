//! Accepted requests: the endpoint on a real port, driven by requests that others signed:
//! boto3's presigned POST, PUT and GET, and aws-sdk-s3's presigned PUT. Refusals are in
//! `post_refusals.rs` and `put_refusals.rs`.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use serde_json::{Value, json};
use vetted_core::ObjectKey;
use vetted_core::ports::ObjectStore;

use crate::harness::*;

/// Asserts exactly one event was enqueued, for this key, size and ETag; returns it.
async fn assert_one_event(app: &App, key: &str, size: u64, method: &str) -> Value {
    let events = app.events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    let body: Value = serde_json::from_str(&events[0].body).unwrap();
    let record = &body["Records"][0];
    assert_eq!(record["eventName"], format!("ObjectCreated:{method}"));
    assert_eq!(record["eventSource"], "aws:s3");
    assert_eq!(record["eventVersion"], "2.1");
    assert_eq!(record["awsRegion"], REGION);
    assert_eq!(record["s3"]["bucket"]["name"], BUCKET);
    assert_eq!(
        record["s3"]["bucket"]["arn"],
        format!("arn:aws:s3:::{BUCKET}")
    );
    assert_eq!(record["requestParameters"]["sourceIPAddress"], "127.0.0.1");
    let encoded = record["s3"]["object"]["key"].as_str().unwrap();
    let spaced = encoded.replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .unwrap();
    assert_eq!(decoded, key);
    assert_eq!(record["s3"]["object"]["size"], size);
    let meta = app
        .store
        .head(&ObjectKey::parse(key).unwrap())
        .await
        .unwrap();
    assert_eq!(meta.size, size);
    assert_eq!(
        record["s3"]["object"]["eTag"].as_str().unwrap(),
        meta.etag.trim_matches('"')
    );
    // The record parses as the AWS type, which requires every field real S3 sends.
    let typed: aws_lambda_events::s3::S3Event = serde_json::from_str(&events[0].body).unwrap();
    assert_eq!(typed.records.len(), 1);
    body
}

#[tokio::test]
async fn boto3_presigned_post_is_accepted_stored_and_announced() {
    let app = spawn_app().await;
    let key = incoming_key();
    let signed = app
        .boto(json!([{
            "kind": "post", "key": key, "content_type": "image/png", "min": 1, "max": 4096,
            "expires": 300,
            "fields": {"success_action_status": "201"},
            "conditions": [{"success_action_status": "201"}]
        }]))
        .await;
    let url = signed[0]["url"].as_str().unwrap();
    assert_eq!(url, format!("{}/{BUCKET}", app.endpoint_url()));
    let bytes = payload(3000);
    let (content_type, body) = multipart(&post_fields(&signed[0]), Some(&bytes), &[]);
    let response = app
        .http
        .post(url)
        .header("content-type", content_type)
        .header("origin", ORIGIN)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["access-control-allow-origin"], ORIGIN);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let xml = response.text().await.unwrap();
    assert!(xml.contains("<PostResponse>"), "{xml}");
    assert!(xml.contains(&format!("<Bucket>{BUCKET}</Bucket>")));
    assert!(xml.contains(&format!("<Key>{key}</Key>")));
    assert!(xml.contains(&format!("<ETag>{}</ETag>", etag.replace('"', "&quot;"))));
    assert!(xml.contains(&format!("<Location>{ORIGIN}/s3/{BUCKET}/{key}</Location>")));

    let object_key = ObjectKey::parse(&key).unwrap();
    assert_eq!(app.store.get(&object_key).await.unwrap(), bytes);
    let meta = app.store.head(&object_key).await.unwrap();
    assert_eq!(meta.content_type.as_deref(), Some("image/png"));
    assert_eq!(etag, format!("\"{}\"", meta.etag.trim_matches('"')));
    assert_one_event(&app, &key, 3000, "Post").await;
    assert!(app.spool_leftovers().is_empty());
}

#[tokio::test]
async fn a_post_without_success_status_answers_204_and_ignores_fields_after_the_file() {
    let app = spawn_app().await;
    let key = incoming_key();
    let signed = app
        .boto(json!([{"kind": "post", "key": key, "content_type": "image/png", "min": 1, "max": 100, "expires": 300}]))
        .await;
    let after = [("Content-Type".to_owned(), "text/html".to_owned())];
    let (content_type, body) = multipart(&post_fields(&signed[0]), Some(b"tiny"), &after);
    let response = app
        .http
        .post(signed[0]["url"].as_str().unwrap())
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let meta = app
        .store
        .head(&ObjectKey::parse(&key).unwrap())
        .await
        .unwrap();
    assert_eq!(meta.content_type.as_deref(), Some("image/png"));
    assert_one_event(&app, &key, 4, "Post").await;
}

#[tokio::test]
async fn boto3_presigned_put_is_accepted_once_with_if_none_match() {
    let app = spawn_app().await;
    let key = incoming_key();
    let signed = app
        .boto(json!([{"kind": "put", "key": key, "content_type": "image/png", "if_none_match": true, "expires": 300}]))
        .await;
    let url = signed[0]["url"].as_str().unwrap().to_owned();
    let put = |bytes: Vec<u8>| {
        app.http
            .put(&url)
            .header("content-type", "image/png")
            .header("if-none-match", "*")
            .body(bytes)
            .send()
    };
    let response = put(payload(1234)).await.unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    assert_one_event(&app, &key, 1234, "Put").await;

    // Replaying the same URL cannot overwrite the object.
    let replay = put(payload(99)).await.unwrap();
    assert_eq!(replay.status(), 412);
    assert_eq!(
        error_code(&replay.text().await.unwrap()),
        "PreconditionFailed"
    );
    let stored = app
        .store
        .get(&ObjectKey::parse(&key).unwrap())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1234);
    assert!(app.events().await.is_empty());
    assert!(app.spool_leftovers().is_empty());
}

#[tokio::test]
async fn concurrent_if_none_match_puts_store_exactly_one() {
    let app = spawn_app().await;
    let key = incoming_key();
    let signed = app
        .boto(json!([{"kind": "put", "key": key, "if_none_match": true, "expires": 300}]))
        .await;
    let url = signed[0]["url"].as_str().unwrap();
    let attempts = (0..8u8).map(|i| {
        app.http
            .put(url)
            .header("if-none-match", "*")
            .body(vec![i; 2048])
            .send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|response| response.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(app.events().await.len(), 1);
}

#[tokio::test]
async fn aws_sdk_presigned_put_is_accepted() {
    let app = spawn_app().await;
    let key = incoming_key();
    let client = app.sdk_client();
    let presigned = client
        .put_object()
        .bucket(BUCKET)
        .key(&key)
        .content_type("image/webp")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    eprintln!(
        "sdk presigned: {} {:?}",
        presigned.uri(),
        presigned.headers().collect::<Vec<_>>()
    );
    let mut request = app.http.put(presigned.uri());
    for (name, value) in presigned.headers() {
        request = request.header(name, value);
    }
    let response = request.body(payload(777)).send().await.unwrap();
    let status = response.status();
    assert_eq!(status, 200, "{}", response.text().await.unwrap());
    let meta = app
        .store
        .head(&ObjectKey::parse(&key).unwrap())
        .await
        .unwrap();
    assert_eq!(meta.content_type.as_deref(), Some("image/webp"));
    assert_one_event(&app, &key, 777, "Put").await;
}

#[tokio::test]
async fn boto3_presigned_get_serves_previews_with_ranges() {
    let app = spawn_app().await;
    let upload = vetted_core::UploadId::generate();
    let preview = ObjectKey::preview(&upload);
    let bytes = payload(600 * 1024);
    app.store
        .put(&preview, bytes.clone().into(), "image/webp")
        .await
        .unwrap();
    let signed = app
        .boto(json!([{"kind": "get", "key": preview.as_str(), "expires": 300}]))
        .await;
    let url = signed[0]["url"].as_str().unwrap();

    let whole = app.http.get(url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["content-type"], "image/webp");
    assert_eq!(whole.headers()["x-content-type-options"], "nosniff");
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.bytes().await.unwrap(), bytes);

    let part = app
        .http
        .get(url)
        .header("range", "bytes=100-299999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 100-299999/{}", bytes.len())
    );
    assert_eq!(part.bytes().await.unwrap(), bytes[100..300_000]);

    let suffix = app
        .http
        .get(url)
        .header("range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(suffix.status(), 206);
    assert_eq!(suffix.bytes().await.unwrap(), bytes[bytes.len() - 10..]);

    let beyond = app
        .http
        .get(url)
        .header("range", format!("bytes={}-", bytes.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), 416);
    assert_eq!(error_code(&beyond.text().await.unwrap()), "InvalidRange");
}

#[tokio::test]
async fn the_server_keeps_its_other_routes_and_stamps_request_ids() {
    let app = spawn_app().await;
    let health = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
    let response = app
        .http
        .get(format!("{}/s3/{BUCKET}/previews/x.webp", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(response.headers()["content-type"], "application/xml");
    let request_id = response.headers()["x-amz-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let xml = response.text().await.unwrap();
    assert_eq!(error_code(&xml), "AccessDenied");
    assert!(xml.contains(&format!("<RequestId>{request_id}</RequestId>")));
    assert!(xml.contains(&format!(
        "<Resource>/s3/{BUCKET}/previews/x.webp</Resource>"
    )));
}

#[tokio::test]
async fn cors_preflights_are_answered_for_the_configured_origin_only() {
    let app = spawn_app().await;
    let url = format!("{}/s3/{BUCKET}", app.endpoint_url().trim_end_matches("/s3"));
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight(ORIGIN).await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()["access-control-allow-origin"], ORIGIN);
    assert_eq!(
        allowed.headers()["access-control-allow-headers"],
        "content-type"
    );
    let refused = preflight("http://evil.example").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_eq!(error_code(&refused.text().await.unwrap()), "AccessDenied");
}

/// A pinned `x-amz-checksum-sha256` is verified as S3 verifies it: boto3's presigned PUT
/// signs it as a header, a POST carries it as a policy-pinned form field. A body with another
/// SHA-256 is `BadDigest`, stores nothing and announces nothing; the right one goes through.
#[tokio::test]
async fn a_pinned_sha256_admits_only_the_body_that_has_it() {
    let app = spawn_app().await;
    let (good, bad) = (
        payload(2048),
        payload(2047).into_iter().chain([b'!']).collect::<Vec<_>>(),
    );
    assert_eq!(good.len(), bad.len());
    let pinned = vetted_core::ContentSha256::of(&good).to_base64();

    let put_key = incoming_key();
    let post_key = incoming_key();
    let signed = app
        .boto(json!([
            {"kind": "put", "key": put_key, "content_type": "image/png", "expires": 300,
             "checksum_sha256": pinned},
            {"kind": "post", "key": post_key, "content_type": "image/png", "min": 1,
             "max": 4096, "expires": 300,
             "fields": {"x-amz-checksum-algorithm": "SHA256", "x-amz-checksum-sha256": pinned},
             "conditions": [{"x-amz-checksum-algorithm": "SHA256"},
                            {"x-amz-checksum-sha256": pinned}]}
        ]))
        .await;
    let put_url = signed[0]["url"].as_str().unwrap().to_owned();
    // boto3 signs the checksum as a header, which the client must then send.
    assert!(put_url.contains("%3Bx-amz-checksum-sha256&"), "{put_url}");
    let put = |bytes: Vec<u8>| {
        app.http
            .put(&put_url)
            .header("content-type", "image/png")
            .header("x-amz-checksum-sha256", &pinned)
            .body(bytes)
            .send()
    };
    let post = |bytes: Vec<u8>| {
        let (content_type, body) = multipart(&post_fields(&signed[1]), Some(&bytes), &[]);
        app.http
            .post(signed[1]["url"].as_str().unwrap())
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    for (method, response) in [("PUT", put(bad.clone()).await), ("POST", post(bad).await)] {
        let response = response.unwrap();
        assert_eq!(response.status(), 400, "{method}");
        assert_eq!(
            error_code(&response.text().await.unwrap()),
            "BadDigest",
            "{method}"
        );
    }
    for key in [&put_key, &post_key] {
        let missing = app.store.head(&ObjectKey::parse(key).unwrap()).await;
        assert!(missing.is_err(), "{key} was stored");
    }
    assert!(app.events().await.is_empty());
    assert!(app.spool_leftovers().is_empty());

    let response = put(good.clone()).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-amz-checksum-sha256"], pinned.as_str());
    assert!(post(good).await.unwrap().status().is_success());
    for key in [&put_key, &post_key] {
        let meta = app
            .store
            .head(&ObjectKey::parse(key).unwrap())
            .await
            .unwrap();
        assert_eq!(meta.sha256.map(|s| s.to_base64()), Some(pinned.clone()));
    }
    assert_eq!(app.events().await.len(), 2);
}
