//! `POST /api/uploads`: the answer for each method, and a 400 with its reason for each kind of
//! bad input, with no record written.

use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use vetted_api::ApiSettings;
use vetted_core::{Clock, Timestamp};

use crate::app::{AppOptions, assert_error, png_request, spawn_app, spawn_with};
use crate::schemas::assert_matches;

fn field<'a>(body: &'a Value, name: &str) -> &'a str {
    body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .and_then(|f| f["value"].as_str())
        .unwrap_or_else(|| panic!("no field {name} in {body}"))
}

#[tokio::test]
async fn a_post_intent_gets_a_pinned_form_and_a_record() {
    let app = spawn_app().await;
    let token = app.owner("owner-1");
    let now = app.clock.now();
    let (status, body) = app.create(&token, png_request(2048)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_matches("create-upload-response.json", &body);
    assert_eq!(body["method"], "post");
    let id = body["upload_id"].as_str().unwrap();
    assert_eq!(body["url"], "http://127.0.0.1:9/s3/vetted-test");
    assert_eq!(field(&body, "key"), format!("incoming/r1/gallery-1/{id}"));
    assert_eq!(field(&body, "Content-Type"), "image/png");
    assert_eq!(field(&body, "x-amz-meta-upload-id"), id);
    let names: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.first(), Some(&"key"));
    assert_eq!(&names[names.len() - 2..], ["policy", "x-amz-signature"]);
    let policy = base64::engine::general_purpose::STANDARD
        .decode(field(&body, "policy"))
        .unwrap();
    let policy: Value = serde_json::from_slice(&policy).unwrap();
    assert!(policy["conditions"].as_array().unwrap().contains(&json!([
        "content-length-range",
        1,
        2048
    ])));
    let expires_at = Timestamp::parse_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires_at, now.saturating_add(Duration::from_secs(300)));

    let (status, record) = app.get(&token, &format!("/api/uploads/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["status"], "AWAITING_UPLOAD");
    assert_eq!(record["size"], 2048);
    assert_eq!(
        record["correlation_id"], id,
        "without a reference of the client's, the upload id correlates"
    );
    assert_eq!(body["correlation_id"], id);
    let intent_expiry = Timestamp::parse_rfc3339(record["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        intent_expiry,
        expires_at.saturating_add(Duration::from_secs(60))
    );
}

#[tokio::test]
async fn a_put_intent_gets_a_url_and_the_headers_to_send() {
    let app = spawn_app().await;
    let mut request = png_request(999);
    request["method"] = json!("put");
    let (status, body) = app.create(&app.owner("owner-1"), request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_matches("create-upload-response.json", &body);
    let id = body["upload_id"].as_str().unwrap();
    let url = body["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "http://127.0.0.1:9/s3/vetted-test/incoming/r1/gallery-1/{id}?"
        )),
        "{url}"
    );
    assert_eq!(
        body["headers"],
        json!({"content-length": "999", "content-type": "image/png", "if-none-match": "*"})
    );
}

#[tokio::test]
async fn a_proxy_intent_points_at_the_content_route() {
    let app = spawn_app().await;
    let mut request = png_request(10);
    request["method"] = json!("proxy");
    let (status, body) = app.create(&app.owner("owner-1"), request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_matches("create-upload-response.json", &body);
    let id = body["upload_id"].as_str().unwrap();
    assert_eq!(body["url"], format!("/api/uploads/{id}/content"));
    assert_eq!(body["headers"], json!({"content-type": "image/png"}));
}

#[tokio::test]
async fn a_correlation_id_the_client_names_is_kept_on_the_intent() {
    let app = spawn_app().await;
    let token = app.owner("owner-1");
    let mut request = png_request(10);
    request["correlation_id"] = json!("order-42:attempt.1");
    let (status, body) = app.create(&token, request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_matches("create-upload-response.json", &body);
    assert_eq!(body["correlation_id"], "order-42:attempt.1");
    let id = body["upload_id"].as_str().unwrap();
    let (status, record) = app.get(&token, &format!("/api/uploads/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_matches("upload.json", &record);
    assert_eq!(record["correlation_id"], "order-42:attempt.1");
}

#[tokio::test]
async fn a_correlation_id_that_could_bend_a_log_line_is_invalid() {
    for bad in [
        json!(""),
        json!("a b"),
        json!("line\nbreak"),
        json!("x".repeat(129)),
    ] {
        refused(&with("correlation_id", bad), "invalid_correlation_id").await;
    }
    refused(&with("correlation_id", json!(42)), "invalid_request").await;
}

/// Sends one bad request and checks the answer and that nothing was written.
async fn refused(body: &str, reason: &str) {
    let app = spawn_app().await;
    let answer = app.create_raw(&app.owner("owner-1"), body).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, reason);
    assert_eq!(
        app.count("owner-1").await,
        0,
        "a record was written for {body}"
    );
}

fn with(field: &str, value: Value) -> String {
    let mut request = png_request(100);
    request[field] = value;
    request.to_string()
}

#[tokio::test]
async fn svg_is_type_not_allowed() {
    refused(
        &with("content_type", json!("image/svg+xml")),
        "type_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn an_unknown_type_is_type_not_allowed() {
    refused(
        &with("content_type", json!("application/pdf")),
        "type_not_allowed",
    )
    .await;
    refused(
        &with("content_type", json!("image/jpg")),
        "type_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn a_type_the_policy_does_not_allow_is_type_not_allowed() {
    let options = AppOptions {
        policy: vetted_core::Policy::from_toml("allowed_types = [\"image/png\"]").unwrap(),
        ..AppOptions::default()
    };
    let app = spawn_with(options).await;
    let answer = app
        .create_raw(
            &app.owner("owner-1"),
            &with("content_type", json!("image/jpeg")),
        )
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "type_not_allowed");
}

#[tokio::test]
async fn size_zero_is_empty() {
    refused(&with("size", json!(0)), "empty").await;
}

#[tokio::test]
async fn a_size_under_the_minimum_is_too_small() {
    let options = AppOptions {
        policy: vetted_core::Policy::from_toml("min_bytes = 100").unwrap(),
        ..AppOptions::default()
    };
    let app = spawn_with(options).await;
    let answer = app.create(&app.owner("owner-1"), png_request(99)).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "too_small");
}

#[tokio::test]
async fn a_size_over_the_maximum_is_too_large() {
    refused(&with("size", json!(20 * 1024 * 1024 + 1)), "too_large").await;
}

/// `proxy_max_bytes: 1000` stands for the Lambda's cap (`LAMBDA_PROXY_MAX_BYTES`): a proxy
/// intent past it is refused when asked for, before any body is sent, and the client is told
/// to upload presigned; the same size presigned is fine.
#[tokio::test]
async fn a_proxy_intent_over_the_proxy_cap_is_413_too_large_for_proxy() {
    let options = AppOptions {
        settings: ApiSettings {
            proxy_max_bytes: 1000,
            ..ApiSettings::default()
        },
        ..AppOptions::default()
    };
    let app = spawn_with(options).await;
    let token = app.owner("owner-1");
    let mut request = png_request(1001);
    request["method"] = json!("proxy");
    let answer = app.create(&token, request).await;
    assert_error(
        &answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large_for_proxy",
    );
    assert_eq!(
        answer.1["error"],
        "size 1001 is above the 1000 bytes a proxy upload may carry here; ask for a presigned \
         upload (method post or put) and send the file to it instead"
    );
    assert_eq!(app.count("owner-1").await, 0, "nothing is written");

    let mut at_the_cap = png_request(1000);
    at_the_cap["method"] = json!("proxy");
    assert_eq!(app.create(&token, at_the_cap).await.0, StatusCode::CREATED);
    let (status, body) = app.create(&token, png_request(1001)).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "presigned has no proxy cap: {body}"
    );
}

#[tokio::test]
async fn a_filename_with_a_slash_is_invalid() {
    refused(
        &with("filename", json!("../etc/passwd")),
        "invalid_filename",
    )
    .await;
    refused(&with("filename", json!("a/b.png")), "invalid_filename").await;
}

#[tokio::test]
async fn a_filename_with_dot_dot_is_invalid() {
    refused(&with("filename", json!("..png")), "invalid_filename").await;
}

#[tokio::test]
async fn a_filename_with_control_characters_is_invalid() {
    refused(
        &with("filename", json!("logo\u{0}.png")),
        "invalid_filename",
    )
    .await;
    refused(&with("filename", json!("logo\n.png")), "invalid_filename").await;
    refused(
        &with("filename", json!("gpj\u{202e}.exe")),
        "invalid_filename",
    )
    .await;
    refused(
        &with("filename", json!("x".repeat(256))),
        "invalid_filename",
    )
    .await;
}

#[tokio::test]
async fn a_filename_with_invisible_or_format_characters_is_invalid() {
    for invisible in [
        "lo\u{200B}go.png",    // zero-width space
        "\u{FEFF}logo.png",    // byte order mark
        "logo\u{E0041}.png",   // a tag character
        "logo\u{2028}.png",    // line separator
        "gpj\u{2067}.exe.png", // right-to-left isolate
        "lo\u{00AD}go.png",    // soft hyphen
    ] {
        refused(&with("filename", json!(invisible)), "invalid_filename").await;
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_invalid_json() {
    refused("filename=logo.png", "invalid_json").await;
    refused("{\"filename\": \"logo.png\"", "invalid_json").await;
    refused("", "invalid_json").await;
}

#[tokio::test]
async fn an_unknown_field_is_unknown_field() {
    refused(
        &with("key", json!("incoming/someone-else/x")),
        "unknown_field",
    )
    .await;
}

#[tokio::test]
async fn missing_or_mistyped_fields_are_invalid_request() {
    refused(
        r#"{"restaurant": "r1", "slot": "gallery-1", "filename": "logo.png", "content_type": "image/png"}"#,
        "invalid_request",
    )
    .await;
    refused(&with("size", json!(-1)), "invalid_request").await;
    refused(&with("size", json!("100")), "invalid_request").await;
    refused(&with("method", json!("copy")), "invalid_request").await;
}
