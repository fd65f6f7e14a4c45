//! POST refusals: the endpoint refuses what S3 would refuse, with S3's codes, and leaves
//! nothing behind: tampered, expired, oversized, undersized, wrong-type and malformed forms
//! store no object, enqueue no event and leave no spool file.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use vetted_core::ObjectKey;
use vetted_core::ports::ObjectStore;

use crate::harness::*;
use crate::refusals::*;

#[tokio::test]
async fn tampered_posts_are_refused() {
    let app = spawn_app().await;
    let key = incoming_key();
    let signed = app.boto(json!([signed_post(&key, 1, 100)])).await;
    let fields = post_fields(&signed[0]);
    let file: &[u8] = b"\x89PNG....";

    let mut signature = fields
        .iter()
        .find(|(n, _)| n == "x-amz-signature")
        .unwrap()
        .1
        .clone();
    signature.replace_range(0..1, if signature.starts_with('0') { "1" } else { "0" });
    let tampered_signature = with_field(&fields, "x-amz-signature", &signature);
    assert_eq!(
        post(&app, &tampered_signature, Some(file)).await,
        (403, "SignatureDoesNotMatch".into())
    );

    // A policy rewritten to allow a larger file no longer matches its signature.
    let policy = fields
        .iter()
        .find(|(n, _)| n == "policy")
        .unwrap()
        .1
        .clone();
    let mut document: Value = serde_json::from_slice(&STANDARD.decode(&policy).unwrap()).unwrap();
    document["conditions"][1] = json!(["content-length-range", 1, 1_000_000_000]);
    let bigger = STANDARD.encode(document.to_string());
    let tampered_policy = with_field(&fields, "policy", &bigger);
    assert_eq!(
        post(&app, &tampered_policy, Some(file)).await,
        (403, "SignatureDoesNotMatch".into())
    );

    let other_key = incoming_key();
    let changed_key = with_field(&fields, "key", &other_key);
    assert_eq!(
        post(&app, &changed_key, Some(file)).await,
        (403, "AccessDenied".into())
    );

    let wrong_type = with_field(&fields, "Content-Type", "image/svg+xml");
    assert_eq!(
        post(&app, &wrong_type, Some(file)).await,
        (403, "AccessDenied".into())
    );

    let unsigned_field = with_field(&fields, "acl", "public-read");
    assert_eq!(
        post(&app, &unsigned_field, Some(file)).await,
        (403, "AccessDenied".into())
    );

    let garbage_policy = with_field(&fields, "policy", "%%%not-base64%%%");
    assert_eq!(
        post(&app, &garbage_policy, Some(file)).await,
        (403, "SignatureDoesNotMatch".into())
    );

    assert_nothing_left(&app, &key).await;
    assert_nothing_left(&app, &other_key).await;
}

#[tokio::test]
async fn a_validly_signed_but_malformed_policy_is_an_invalid_policy_document() {
    let app = spawn_app().await;
    let key = incoming_key();
    let signed = app.boto(json!([signed_post(&key, 1, 100)])).await;
    let fields = post_fields(&signed[0]);
    // Sign a broken policy the way S3 clients do: HMAC of the base64 text.
    let broken = STANDARD.encode(
        r#"{"expiration": "2999-01-01T00:00:00Z", "conditions": [["ends-with", "$key", "x"]]}"#,
    );
    let credential = &fields
        .iter()
        .find(|(n, _)| n == "x-amz-credential")
        .unwrap()
        .1;
    let date = credential.split('/').nth(1).unwrap();
    let key_bytes = aws_sigv4::sign::v4::generate_signing_key(
        SECRET_KEY,
        std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(
                time::Date::parse(
                    date,
                    time::macros::format_description!("[year][month][day]"),
                )
                .unwrap()
                .midnight()
                .assume_utc()
                .unix_timestamp() as u64,
            ),
        REGION,
        "s3",
    );
    let signature = aws_sigv4::sign::v4::calculate_signature(key_bytes, broken.as_bytes());
    let resigned = with_field(
        &with_field(&fields, "policy", &broken),
        "x-amz-signature",
        &signature,
    );
    assert_eq!(
        post(&app, &resigned, Some(b"x")).await,
        (400, "InvalidPolicyDocument".into())
    );
    assert_nothing_left(&app, &key).await;
}

#[tokio::test]
async fn oversized_and_undersized_uploads_are_refused_and_leave_nothing() {
    let app = spawn_app_with(|config| config.max_object_bytes = 1024 * 1024).await;
    let key = incoming_key();
    let signed = app
        .boto(json!([signed_post(&key, 10, 1000), {"kind": "put", "key": key, "expires": 300}]))
        .await;
    let fields = post_fields(&signed[0]);
    assert_eq!(
        post(&app, &fields, Some(&payload(1001))).await,
        (400, "EntityTooLarge".into())
    );
    // Far over the cap: the stream is cut at the cap, not buffered.
    assert_eq!(
        post(&app, &fields, Some(&payload(2 * 1024 * 1024))).await,
        (400, "EntityTooLarge".into())
    );
    assert_eq!(
        post(&app, &fields, Some(&payload(9))).await,
        (400, "EntityTooSmall".into())
    );
    // Exactly at the bounds is fine; then clean up for the PUT checks.
    assert_eq!(post(&app, &fields, Some(&payload(10))).await.0, 204);
    app.store
        .delete(&ObjectKey::parse(&key).unwrap())
        .await
        .unwrap();
    assert_eq!(app.events().await.len(), 1);

    let url = signed[1]["url"].as_str().unwrap();
    assert_eq!(
        put(&app, url, &[], payload(1024 * 1024 + 1)).await,
        (400, "EntityTooLarge".into())
    );
    assert_nothing_left(&app, &key).await;
}

#[tokio::test]
async fn a_huge_form_field_is_refused_before_the_signature_is_checked() {
    let app = spawn_app().await;
    let fields = vec![("x-amz-meta-junk".to_owned(), "j".repeat(200 * 1024))];
    assert_eq!(
        post(&app, &fields, Some(b"x")).await,
        (400, "MaxPostPreDataLengthExceededError".into())
    );
    assert!(app.spool_leftovers().is_empty());
}

#[tokio::test]
async fn expired_urls_and_policies_are_refused() {
    let app = spawn_app().await;
    let key = incoming_key();
    let two_hours_ago = -7200;
    let signed = app
        .boto(json!([
            {"kind": "put", "key": key, "expires": 60, "clock_offset": two_hours_ago},
            {"kind": "post", "key": key, "content_type": "image/png", "min": 1, "max": 100, "expires": 60, "clock_offset": two_hours_ago}
        ]))
        .await;
    assert_eq!(
        put(&app, signed[0]["url"].as_str().unwrap(), &[], payload(10)).await,
        (403, "AccessDenied".into())
    );
    assert_eq!(
        post(&app, &post_fields(&signed[1]), Some(&payload(10))).await,
        (403, "AccessDenied".into())
    );
    assert_nothing_left(&app, &key).await;
}
