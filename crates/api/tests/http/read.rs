//! `GET /api/uploads/{id}` and `GET /api/uploads`: owners see their own uploads, without
//! internals, newest first; anyone else's id is 404.

use reqwest::StatusCode;
use serde_json::Value;
use vetted_core::TaskToken;
use vetted_core::ports::Uploads;
use vetted_core::record::RecordChanges;
use vetted_core::{Status, Transition, UploadId};

use crate::app::{OWNER, TestApp, assert_error, png_request, spawn_app};
use crate::schemas::assert_matches;

/// A new upload of `owner`'s: in [`OWNER`]'s restaurant for them, in a restaurant of their
/// own for anyone else.
async fn new_upload(app: &TestApp, owner: &str) -> String {
    let mut request = png_request(100);
    if owner != OWNER {
        let restaurant = app.restaurant(&format!("r-{owner}"), owner).await;
        request["restaurant"] = restaurant.as_str().into();
    }
    let (status, body) = app.create(&app.owner(owner), request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["upload_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_owner_reads_their_upload_without_internals() {
    let app = spawn_app().await;
    let id = new_upload(&app, "owner-1").await;
    // Move it into review with a task token, so that there are internals to leak.
    let upload = UploadId::parse(&id).unwrap();
    for (from, to) in [
        (Status::AwaitingUpload, Status::Received),
        (Status::Received, Status::InReview),
    ] {
        let changes = RecordChanges {
            task_token: Some(TaskToken::parse("secret-task-token").unwrap()),
            object_version: Some("\"etag-123\"".into()),
            bytes: Some(100),
            ..Default::default()
        };
        let t = Transition::new(from, to, vetted_core::Clock::now(&*app.clock))
            .unwrap()
            .with(changes);
        app.uploads.transition(&upload, &t).await.unwrap();
    }
    let (status, body) = app
        .get(&app.owner("owner-1"), &format!("/api/uploads/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_matches("upload.json", &body);
    assert_eq!(body["status"], "IN_REVIEW");
    let text = body.to_string();
    for secret in [
        "secret-task-token",
        "etag-123",
        "incoming/",
        "vetted-test",
        "task_token",
        "key",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[tokio::test]
async fn another_owners_upload_is_404() {
    let app = spawn_app().await;
    let id = new_upload(&app, "owner-1").await;
    let answer = app
        .get(&app.owner("owner-2"), &format!("/api/uploads/{id}"))
        .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    let missing = app
        .get(
            &app.owner("owner-1"),
            &format!("/api/uploads/{}", UploadId::generate()),
        )
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        answer.1, missing.1,
        "a stranger's id and a missing one must look the same"
    );
    let garbage = app
        .get(&app.owner("owner-1"), "/api/uploads/not-an-id")
        .await;
    assert_error(&garbage, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_list_holds_only_the_callers_uploads_newest_first_in_pages() {
    let app = spawn_app().await;
    let mut mine = Vec::new();
    for _ in 0..5 {
        mine.push(new_upload(&app, "owner-1").await);
    }
    new_upload(&app, "owner-2").await;
    mine.reverse();
    let token = app.owner("owner-1");
    let mut seen = Vec::new();
    let mut path = "/api/uploads?limit=2".to_owned();
    loop {
        let (status, body) = app.get(&token, &path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_matches("upload-list.json", &body);
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|i| i["upload_id"].as_str().unwrap().to_owned()),
        );
        match body.get("next").and_then(Value::as_str) {
            Some(next) => path = format!("/api/uploads?limit=2&after={}", urlencode(next)),
            None => break,
        }
    }
    assert_eq!(seen, mine);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn bad_list_queries_are_400() {
    let app = spawn_app().await;
    let token = app.owner("owner-1");
    for query in ["limit=0", "limit=101", "limit=many", "colour=blue"] {
        let answer = app.get(&token, &format!("/api/uploads?{query}")).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_query");
    }
    let answer = app.get(&token, "/api/uploads?after=forged-token").await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_page_token");
}
