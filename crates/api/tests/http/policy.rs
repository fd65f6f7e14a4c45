//! `GET /api/policy`: any signed-in caller reads the policy of each slot kind the server
//! enforces, in the shape of `schemas/api/policy.json`; without a valid token it is 401.

use reqwest::StatusCode;
use vetted_core::{ImageType, Policy};

use crate::app::{AppOptions, assert_error, read, spawn_with};
use crate::schemas::assert_matches;

/// A policy unlike the defaults, so that an answer built from them would not pass.
fn custom_policy() -> Policy {
    Policy {
        allowed_types: [ImageType::Png, ImageType::Webp].into_iter().collect(),
        min_bytes: 10,
        max_bytes: 5_000_000,
        min_side: 32,
        max_side: 4096,
        max_pixels: 10_000_000,
        ..Policy::default()
    }
    .validated()
    .unwrap()
}

#[tokio::test]
async fn owners_and_moderators_read_the_policy_the_server_enforces() {
    let app = spawn_with(AppOptions {
        policy: custom_policy(),
        settings: vetted_api::ApiSettings {
            multipart_part_bytes: 6 * 1024 * 1024,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    for token in [app.owner("owner-1"), app.moderator("mod-1")] {
        let (status, body) = app.get(&token, "/api/policy").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_matches("policy.json", &body);
        let one_kind = serde_json::json!({
            "allowed_types": ["image/png", "image/webp"],
            "allowed_extensions": {"image/png": ["png"], "image/webp": ["webp"]},
            "min_bytes": 10,
            "max_bytes": 5_000_000,
            "min_side": 32,
            "max_side": 4096,
            "max_pixels": 10_000_000,
            "approvals_required": 1,
            "known_content": "review",
        });
        assert_eq!(
            body,
            serde_json::json!({
                "logo": one_kind,
                "cover": one_kind,
                "gallery": one_kind,
                "gallery_positions": 12,
                "multipart_part_bytes": 6 * 1024 * 1024,
            })
        );
    }
}

#[tokio::test]
async fn the_policy_needs_a_valid_token() {
    let app = spawn_with(AppOptions::default()).await;
    let response = app.http.get(app.url("/api/policy")).send().await.unwrap();
    assert_error(
        &read(response).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let forged = app.get("not.a.jwt", "/api/policy").await;
    assert_error(&forged, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn the_extensions_are_those_of_the_allowed_types() {
    let app = spawn_with(AppOptions::default()).await;
    let (status, body) = app.get(&app.owner("owner-1"), "/api/policy").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["logo"]["allowed_extensions"],
        serde_json::json!({
            "image/jpeg": ["jpg", "jpeg"],
            "image/png": ["png"],
            "image/webp": ["webp"],
        })
    );
}
