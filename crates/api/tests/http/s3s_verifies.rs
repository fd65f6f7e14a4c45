//! Our signatures checked by someone else's code: `s3s` (with `s3s-fs`) runs in-process as an
//! S3 server with the same credentials. Presigned POSTs and PUTs issued through the API must
//! be accepted, and tampered ones (another key, another type, too many bytes, expired, a
//! dropped signed header) refused, with nothing stored.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleError;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;
use vetted_core::ports::UploadSigner;
use vetted_core::{Clock, ObjectKey, SystemClock, Timestamp, UploadId};

use crate::app::{ACCESS_KEY, AppOptions, BUCKET, SECRET_KEY, TestApp, local_signer, spawn_with};

struct S3Server {
    base: String,
    root: TempDir,
}

impl S3Server {
    fn object_path(&self, key: &str) -> PathBuf {
        self.root.path().join(BUCKET).join(key)
    }
}

async fn s3s_server() -> S3Server {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join(BUCKET)).unwrap();
    let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = HandleError::new(builder.build(), |e: s3s::HttpError| async move {
        (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:?}"))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().fallback_service(service);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    S3Server { base, root }
}

async fn setup() -> (TestApp, S3Server, Arc<dyn UploadSigner>) {
    let s3 = s3s_server().await;
    let signer = local_signer(&s3.base);
    let options = AppOptions {
        signer: Some(signer.clone()),
        ..AppOptions::default()
    };
    (spawn_with(options).await, s3, signer)
}

async fn intent(app: &TestApp, method: &str, size: u64) -> Value {
    let request = json!({"restaurant": "r1", "slot": "gallery-1", "filename": "logo.png", "content_type": "image/png", "size": size, "method": method});
    let (status, body) = app.create(&app.owner("owner-1"), request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

fn form_fields(body: &Value) -> Vec<(String, String)> {
    body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `multipart/form-data` as a browser sends it: the fields in order, then the file last.
fn multipart(fields: &[(String, String)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----vetted-test-boundary-7MA4YWxkTrZu0gW";
    let mut out = Vec::new();
    for (name, value) in fields {
        out.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"logo.png\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(file);
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), out)
}

async fn post_form(url: &str, fields: &[(String, String)], file: &[u8]) -> (StatusCode, String) {
    let (content_type, body) = multipart(fields, file);
    let response = crate::app::http_client()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

fn replace(fields: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(n, v)| {
            (
                n.clone(),
                if n == name {
                    value.to_owned()
                } else {
                    v.clone()
                },
            )
        })
        .collect()
}

fn incoming_key(body: &Value) -> String {
    format!(
        "incoming/r1/gallery-1/{}",
        body["upload_id"].as_str().unwrap()
    )
}

#[tokio::test]
async fn s3s_accepts_our_presigned_post_and_refuses_tampered_ones() {
    let (app, s3, _) = setup().await;
    let body = intent(&app, "post", 1000).await;
    let url = body["url"].as_str().unwrap();
    let fields = form_fields(&body);
    let key = incoming_key(&body);
    let id = body["upload_id"].as_str().unwrap();

    let other_key = format!("incoming/r2/gallery-1/{id}");
    let refused_by_policy = (StatusCode::BAD_REQUEST, "InvalidPolicyDocument");
    let new_id = UploadId::generate().to_string();
    let tampered = [
        (
            "another key",
            replace(&fields, "key", &other_key),
            1000,
            refused_by_policy,
        ),
        (
            "another type",
            replace(&fields, "Content-Type", "image/svg+xml"),
            1000,
            refused_by_policy,
        ),
        (
            "another upload id",
            replace(&fields, "x-amz-meta-upload-id", &new_id),
            1000,
            refused_by_policy,
        ),
        (
            "a forged signature",
            replace(&fields, "x-amz-signature", &"0".repeat(64)),
            1000,
            (StatusCode::FORBIDDEN, "SignatureDoesNotMatch"),
        ),
        (
            "one byte over the declared size",
            fields.clone(),
            1001,
            (StatusCode::BAD_REQUEST, "EntityTooLarge"),
        ),
    ];
    for (what, form, size, (expected_status, expected_code)) in tampered {
        let (status, text) = post_form(url, &form, &vec![7u8; size]).await;
        assert_eq!(status, expected_status, "{what}: {text}");
        assert!(
            text.contains(&format!("<Code>{expected_code}</Code>")),
            "{what}: {text}"
        );
        assert!(
            !s3.object_path(&key).exists() && !s3.object_path(&other_key).exists(),
            "{what} stored"
        );
    }

    let (status, text) = post_form(url, &fields, &[7u8; 1000]).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(
        std::fs::read(s3.object_path(&key)).unwrap(),
        vec![7u8; 1000]
    );
}

#[tokio::test]
async fn s3s_refuses_an_expired_post_and_put() {
    let s3 = s3s_server().await;
    // Signed ten minutes ago: the 5-minute expiry has passed by the time they are used.
    let past = Timestamp::from_unix_millis(SystemClock.now().unix_millis() - 600_000);
    let app = spawn_with(AppOptions {
        signer: Some(local_signer(&s3.base)),
        clock_start: Some(past),
        ..AppOptions::default()
    })
    .await;
    let body = intent(&app, "post", 10).await;
    let (status, text) = post_form(
        body["url"].as_str().unwrap(),
        &form_fields(&body),
        &[1u8; 10],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("<Code>AccessDenied</Code>"), "{text}");
    assert!(!s3.object_path(&incoming_key(&body)).exists());

    let body = intent(&app, "put", 10).await;
    let headers = [("content-type", "image/png"), ("if-none-match", "*")];
    let (status, text) = put(body["url"].as_str().unwrap(), &headers, vec![1u8; 10]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("<Code>AccessDenied</Code>"), "{text}");
    assert!(!s3.object_path(&incoming_key(&body)).exists());
}

/// What is changed, the URL, the headers sent, the body size.
type PutCase<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, usize);

async fn put(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (StatusCode, String) {
    let mut request = crate::app::http_client().put(url).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn s3s_accepts_our_presigned_put_and_refuses_tampered_ones() {
    let (app, s3, signer) = setup().await;
    let body = intent(&app, "put", 500).await;
    let url = body["url"].as_str().unwrap();
    let key = incoming_key(&body);
    // Browsers derive Content-Length from the body; the other signed headers are sent as given.
    assert_eq!(body["headers"]["content-length"], "500");
    let good = [("content-type", "image/png"), ("if-none-match", "*")];

    let other_url = url.replace("incoming/r1/gallery-1/", "incoming/r2/gallery-1/");
    let tampered: [PutCase; 4] = [
        (
            "another type",
            url,
            vec![("content-type", "image/svg+xml"), ("if-none-match", "*")],
            500,
        ),
        (
            "no If-None-Match",
            url,
            vec![("content-type", "image/png")],
            500,
        ),
        ("more bytes than declared", url, good.to_vec(), 501),
        ("another key", &other_url, good.to_vec(), 500),
    ];
    for (what, target, headers, size) in tampered {
        let (status, text) = put(target, &headers, vec![3u8; size]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {text}");
        assert!(
            text.contains("<Code>SignatureDoesNotMatch</Code>"),
            "{what}: {text}"
        );
        assert!(!s3.object_path(&key).exists(), "{what} stored");
    }

    let (status, text) = put(url, &good, vec![3u8; 500]).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(std::fs::read(s3.object_path(&key)).unwrap(), vec![3u8; 500]);

    // Replaying the URL cannot overwrite the object: If-None-Match: * is signed.
    let (status, text) = put(url, &good, vec![9u8; 500]).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{text}");
    assert_eq!(std::fs::read(s3.object_path(&key)).unwrap(), vec![3u8; 500]);

    let object = ObjectKey::incoming(
        &"r1/gallery-1".parse().unwrap(),
        &UploadId::parse(body["upload_id"].as_str().unwrap()).unwrap(),
    );
    let get_url = signer
        .presign_get(&object, app.clock.now(), Duration::from_secs(60))
        .await
        .unwrap();
    let fetched = reqwest::get(&get_url).await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().len(), 500);
}
