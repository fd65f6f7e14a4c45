//! RS256 tokens through a JWKS URL, served over real HTTP from a loopback port.
//!
//! `tests/fixtures/test-rsa-*.pem` are throwaway keys made for these tests with
//! `openssl genrsa 2048`; `test-jwks.json` is the public half of `test-rsa-key.pem`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use vetted_api::auth::OidcConfig;
use vetted_core::{Clock, SystemClock};

use crate::app::{AppOptions, TestApp, assert_error, png_request, spawn_with};

const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TEST";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

/// Serves the test JWKS and counts how often it is fetched.
async fn jwks_server() -> (String, Arc<AtomicUsize>) {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let jwks: Value = serde_json::from_slice(&fixture("test-jwks.json")).unwrap();
    let app = Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, fetches)
}

async fn app_with_issuer(audience: Option<&str>) -> (TestApp, Arc<AtomicUsize>) {
    let (jwks_url, fetches) = jwks_server().await;
    let options = AppOptions {
        oidc: Some(OidcConfig {
            jwks_url,
            issuer: ISSUER.to_owned(),
            audience: audience.map(str::to_owned),
        }),
        ..AppOptions::default()
    };
    (spawn_with(options).await, fetches)
}

fn rs256(kid: &str, key_file: &str, claims: Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_rsa_pem(&fixture(key_file)).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

fn cognito_claims(iss: &str) -> Value {
    let now = SystemClock.now().unix_seconds();
    json!({
        "sub": "3f1c9a2e-owner", "iss": iss, "iat": now, "exp": now + 600,
        "token_use": "id", "aud": "web-client", "cognito:groups": ["owners"]
    })
}

#[tokio::test]
async fn a_cognito_style_token_is_accepted_and_the_keys_are_cached() {
    let (app, fetches) = app_with_issuer(Some("web-client")).await;
    app.join("3f1c9a2e-owner").await;
    let token = rs256("test-key-1", "test-rsa-key.pem", cognito_claims(ISSUER));
    for _ in 0..3 {
        let (status, body) = app.create(&token, png_request(100)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    let mut access = cognito_claims(ISSUER);
    access.as_object_mut().unwrap().remove("aud");
    access["client_id"] = json!("web-client");
    access["token_use"] = json!("access");
    let (status, body) = app
        .create(
            &rs256("test-key-1", "test-rsa-key.pem", access),
            png_request(1),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn the_wrong_issuer_or_audience_is_401() {
    let (app, _) = app_with_issuer(Some("web-client")).await;
    let wrong_iss = rs256(
        "test-key-1",
        "test-rsa-key.pem",
        cognito_claims("https://evil.example"),
    );
    assert_error(
        &app.create(&wrong_iss, png_request(1)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let mut wrong_aud = cognito_claims(ISSUER);
    wrong_aud["aud"] = json!("another-client");
    let token = rs256("test-key-1", "test-rsa-key.pem", wrong_aud);
    assert_error(
        &app.create(&token, png_request(1)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
}

#[tokio::test]
async fn a_token_signed_by_another_key_is_401_and_refetches_are_rate_limited() {
    let (app, fetches) = app_with_issuer(None).await;
    let forged = rs256(
        "test-key-1",
        "test-rsa-other-key.pem",
        cognito_claims(ISSUER),
    );
    assert_error(
        &app.create(&forged, png_request(1)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let unknown_kid = rs256(
        "rotated-key",
        "test-rsa-other-key.pem",
        cognito_claims(ISSUER),
    );
    for _ in 0..5 {
        assert_error(
            &app.create(&unknown_kid, png_request(1)).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        );
    }
    // The first token fetched the keys; an unknown kid refetches at most once per 30 s, so a
    // stream of forged tokens never reaches the issuer.
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_public_key_cannot_be_used_as_an_hs256_secret() {
    let (app, _) = app_with_issuer(None).await;
    for secret in [fixture("test-jwks.json"), fixture("test-rsa-key.pem")] {
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &cognito_claims(ISSUER),
            &EncodingKey::from_secret(&secret),
        )
        .unwrap();
        assert_error(
            &app.create(&token, png_request(1)).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        );
    }
}

#[tokio::test]
async fn an_rs256_token_without_a_configured_issuer_is_401() {
    let app = crate::app::spawn_app().await;
    let token = rs256("test-key-1", "test-rsa-key.pem", cognito_claims(ISSUER));
    assert_error(
        &app.create(&token, png_request(1)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
}

#[tokio::test]
async fn an_unreachable_jwks_is_503() {
    let options = AppOptions {
        oidc: Some(OidcConfig {
            jwks_url: "http://127.0.0.1:9/.well-known/jwks.json".to_owned(),
            issuer: ISSUER.to_owned(),
            audience: None,
        }),
        ..AppOptions::default()
    };
    let app = spawn_with(options).await;
    let token = rs256("test-key-1", "test-rsa-key.pem", cognito_claims(ISSUER));
    assert_error(
        &app.create(&token, png_request(1)).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );
}
