//! Helpers shared by the refusal tests: send a form or a PUT and read S3's error code, and
//! check that a refused request left nothing behind.

use serde_json::{Value, json};
use vetted_core::ObjectKey;
use vetted_core::ports::{ObjectStore, StoreError};

use crate::harness::*;

/// The status and, for an error, S3's error code (empty on success).
pub async fn outcome(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    if status < 300 {
        return (status, String::new());
    }
    (status, error_code(&body))
}

/// Posts the form; returns the status and the S3 error code.
pub async fn post(app: &App, fields: &[(String, String)], file: Option<&[u8]>) -> (u16, String) {
    let (content_type, body) = multipart(fields, file, &[]);
    let response = app
        .http
        .post(format!("{}/{BUCKET}", app.endpoint_url()))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    outcome(response).await
}

pub async fn put(app: &App, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, String) {
    let mut request = app.http.put(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    outcome(request.body(body).send().await.unwrap()).await
}

/// Nothing was stored under `key`, nothing announced, no spool file left.
pub async fn assert_nothing_left(app: &App, key: &str) {
    let absent = app.store.head(&ObjectKey::parse(key).unwrap()).await;
    assert!(matches!(absent, Err(StoreError::NotFound(_))), "{absent:?}");
    assert!(app.events().await.is_empty());
    assert!(
        app.spool_leftovers().is_empty(),
        "{:?}",
        app.spool_leftovers()
    );
}

pub fn signed_post(key: &str, min: u64, max: u64) -> Value {
    json!({"kind": "post", "key": key, "content_type": "image/png", "min": min, "max": max, "expires": 300})
}
