//! `PUT /api/uploads/{id}/content`: the body is streamed to the store under a hard cap; past
//! it the answer is 413 and nothing is stored.

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use reqwest::StatusCode;
use serde_json::json;
use vetted_api::ApiSettings;
use vetted_core::ports::{ObjectStore, StoreError, Uploads};
use vetted_core::{ObjectKey, Status, Transition, UploadId};

use crate::app::{AppOptions, TestApp, assert_error, read, spawn_app, spawn_with};
use crate::schemas::assert_matches;

async fn proxy_intent(app: &TestApp, owner: &str, size: u64) -> String {
    let request = json!({"restaurant": "r1", "slot": "gallery-1", "filename": "menu.jpg", "content_type": "image/jpeg", "size": size, "method": "proxy"});
    let (status, body) = app.create(&app.owner(owner), request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["upload_id"].as_str().unwrap().to_owned()
}

/// Where an intent of `owner`'s in the test restaurant's first gallery slot is stored.
fn key(owner: &str, id: &str) -> ObjectKey {
    assert_eq!(
        owner,
        crate::app::OWNER,
        "every proxy intent here is the owner's"
    );
    ObjectKey::incoming(
        &"r1/gallery-1".parse().unwrap(),
        &UploadId::parse(id).unwrap(),
    )
}

async fn put(
    app: &TestApp,
    owner: &str,
    id: &str,
    content_type: &str,
    body: reqwest::Body,
) -> (StatusCode, serde_json::Value) {
    let response = app
        .http
        .put(app.url(&format!("/api/uploads/{id}/content")))
        .bearer_auth(app.owner(owner))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    read(response).await
}

/// A body sent in chunks without a Content-Length, so the cap must hold while streaming.
fn chunked(chunks: usize, chunk_size: usize) -> reqwest::Body {
    let parts =
        (0..chunks).map(move |_| Ok::<_, std::io::Error>(Bytes::from(vec![0xAB; chunk_size])));
    reqwest::Body::wrap_stream(stream::iter(parts))
}

async fn assert_not_stored(app: &TestApp, key: &ObjectKey) {
    assert!(
        matches!(app.objects.head(key).await, Err(StoreError::NotFound(_))),
        "{key} was stored"
    );
}

#[tokio::test]
async fn a_proxy_upload_is_stored_at_the_intents_key() {
    let app = spawn_app().await;
    let id = proxy_intent(&app, "owner-1", 5000).await;
    let (status, body) = put(&app, "owner-1", &id, "image/jpeg", chunked(5, 1000)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_matches("content-received.json", &body);
    assert_eq!(body["bytes"], 5000);
    let stored = app.objects.get(&key("owner-1", &id)).await.unwrap();
    assert_eq!(stored.len(), 5000);
    assert!(stored.iter().all(|b| *b == 0xAB));
    let record = app
        .uploads
        .get(&UploadId::parse(&id).unwrap())
        .await
        .unwrap();
    assert_eq!(
        record.status,
        Status::AwaitingUpload,
        "the notification moves it, not the API"
    );
}

#[tokio::test]
async fn a_streamed_body_past_the_declared_size_is_413_and_not_stored() {
    let app = spawn_app().await;
    let id = proxy_intent(&app, "owner-1", 3000).await;
    let answer = put(&app, "owner-1", &id, "image/jpeg", chunked(4, 1000)).await;
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_not_stored(&app, &key("owner-1", &id)).await;
}

/// `proxy_max_bytes` stands for the Lambda's cap (`LAMBDA_PROXY_MAX_BYTES`), small here: a
/// body past it is 413 `too_large_for_proxy`, which tells the client to upload presigned,
/// whether its `Content-Length` says so or it is counted while streaming.
#[tokio::test]
async fn a_body_past_the_proxy_cap_is_413_too_large_for_proxy_even_under_the_declared_size() {
    let options = AppOptions {
        settings: ApiSettings {
            proxy_max_bytes: 64 * 1024,
            ..ApiSettings::default()
        },
        ..AppOptions::default()
    };
    let app = spawn_with(options).await;
    // Declared with POST (no proxy cap at creation); the content route still enforces it.
    let request = json!({"restaurant": "r1", "slot": "gallery-1", "filename": "menu.jpg", "content_type": "image/jpeg", "size": 1_000_000});
    let (_, body) = app.create(&app.owner("owner-1"), request).await;
    let id = body["upload_id"].as_str().unwrap().to_owned();
    let streamed = put(&app, "owner-1", &id, "image/jpeg", chunked(100, 8192)).await;
    assert_error(
        &streamed,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large_for_proxy",
    );
    assert!(
        streamed.1["error"]
            .as_str()
            .unwrap()
            .starts_with("the body is above the 65536 bytes a proxy upload may carry here"),
        "{}",
        streamed.1
    );
    let sized = put(
        &app,
        "owner-1",
        &id,
        "image/jpeg",
        reqwest::Body::from(vec![1u8; 70_000]),
    )
    .await;
    assert_error(&sized, StatusCode::PAYLOAD_TOO_LARGE, "too_large_for_proxy");
    assert!(
        sized.1["error"]
            .as_str()
            .unwrap()
            .starts_with("Content-Length 70000 is above the 65536 bytes"),
        "{}",
        sized.1
    );
    assert_not_stored(&app, &key("owner-1", &id)).await;
}

#[tokio::test]
async fn a_body_past_the_declared_size_under_the_proxy_cap_stays_payload_too_large() {
    let app = spawn_app().await;
    let id = proxy_intent(&app, "owner-1", 3000).await;
    let sized = put(
        &app,
        "owner-1",
        &id,
        "image/jpeg",
        reqwest::Body::from(vec![1u8; 3001]),
    )
    .await;
    assert_error(&sized, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_not_stored(&app, &key("owner-1", &id)).await;
}

#[tokio::test]
async fn a_different_content_type_is_type_mismatch() {
    let app = spawn_app().await;
    let id = proxy_intent(&app, "owner-1", 10).await;
    for wrong in ["image/png", "image/svg+xml", "application/octet-stream"] {
        let answer = put(
            &app,
            "owner-1",
            &id,
            wrong,
            reqwest::Body::from(vec![1u8; 10]),
        )
        .await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "type_mismatch");
    }
    assert_not_stored(&app, &key("owner-1", &id)).await;
}

#[tokio::test]
async fn an_empty_body_is_empty() {
    let app = spawn_app().await;
    let id = proxy_intent(&app, "owner-1", 10).await;
    let answer = put(
        &app,
        "owner-1",
        &id,
        "image/jpeg",
        reqwest::Body::from(Vec::<u8>::new()),
    )
    .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "empty");
    assert_not_stored(&app, &key("owner-1", &id)).await;
}

#[tokio::test]
async fn another_owners_upload_is_404() {
    let app = spawn_app().await;
    let id = proxy_intent(&app, "owner-1", 10).await;
    let answer = put(
        &app,
        "owner-2",
        &id,
        "image/jpeg",
        reqwest::Body::from(vec![1u8; 10]),
    )
    .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    // Staff of the same restaurant may read the upload but not send its bytes.
    app.join("staff-1").await;
    let answer = put(
        &app,
        "staff-1",
        &id,
        "image/jpeg",
        reqwest::Body::from(vec![1u8; 10]),
    )
    .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    assert_not_stored(&app, &key("owner-1", &id)).await;
}

#[tokio::test]
async fn an_expired_intent_is_410() {
    let app = spawn_app().await;
    let id = proxy_intent(&app, "owner-1", 10).await;
    app.clock.advance(Duration::from_secs(300 + 60 + 1));
    let answer = put(
        &app,
        "owner-1",
        &id,
        "image/jpeg",
        reqwest::Body::from(vec![1u8; 10]),
    )
    .await;
    assert_error(&answer, StatusCode::GONE, "intent_expired");
    assert_not_stored(&app, &key("owner-1", &id)).await;
}

#[tokio::test]
async fn an_upload_that_already_has_its_file_is_409() {
    let app = spawn_app().await;
    let id = proxy_intent(&app, "owner-1", 10).await;
    let upload = UploadId::parse(&id).unwrap();
    let t = Transition::new(
        Status::AwaitingUpload,
        Status::Received,
        vetted_core::Clock::now(&*app.clock),
    )
    .unwrap();
    app.uploads.transition(&upload, &t).await.unwrap();
    let answer = put(
        &app,
        "owner-1",
        &id,
        "image/jpeg",
        reqwest::Body::from(vec![1u8; 10]),
    )
    .await;
    assert_error(&answer, StatusCode::CONFLICT, "not_awaiting_upload");
}
