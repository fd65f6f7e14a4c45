//! Who may call: missing, expired, forged, unsigned and wrong-issuer tokens are 401; the wrong
//! role is 403. Nothing is written by a refused request.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::json;
use vetted_api::auth::{DEV_ISSUER, Role};
use vetted_core::{Clock, SystemClock};

use crate::app::{DEV_SECRET, assert_error, png_request, spawn_app};

fn hs256(claims: serde_json::Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn claims(iss: &str, exp_offset: i64) -> serde_json::Value {
    let now = SystemClock.now().unix_seconds();
    json!({"sub": "owner-1", "iss": iss, "iat": now, "exp": now + exp_offset, "cognito:groups": ["owners"]})
}

#[tokio::test]
async fn a_request_without_a_token_is_401() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(app.url("/api/uploads"))
        .json(&png_request(100))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let answer = crate::app::read(response).await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");
    let basic = app
        .http
        .get(app.url("/api/uploads"))
        .header("authorization", "Basic b3duZXI6cGFzcw==")
        .send()
        .await
        .unwrap();
    assert_error(
        &crate::app::read(basic).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
}

#[tokio::test]
async fn an_expired_token_is_401() {
    let app = spawn_app().await;
    let expired = hs256(claims(DEV_ISSUER, -3600), &DEV_SECRET);
    let answer = app.create(&expired, png_request(100)).await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(answer.1["error"], "the token has expired: sign in again");
    assert_eq!(app.count("owner-1").await, 0);
}

#[tokio::test]
async fn a_forged_token_is_401() {
    let app = spawn_app().await;
    let forged = hs256(claims(DEV_ISSUER, 600), &[0u8; 32]);
    let answer = app.create(&forged, png_request(100)).await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");
    // Only what a caller needs: not the verifier library's words for what failed.
    assert_eq!(answer.1["error"], "the token was refused");
    // A valid token with one claim changed keeps its old signature: also forged.
    let valid = app.owner("owner-1");
    let parts: Vec<&str> = valid.split('.').collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut payload: serde_json::Value =
        serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = json!("owner-2");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(payload.to_string()),
        parts[2]
    );
    assert_error(
        &app.create(&tampered, png_request(100)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_eq!(app.count("owner-2").await, 0);
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_401() {
    let app = spawn_app().await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = claims(DEV_ISSUER, 600).to_string();
    for header in [
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"None"}"#,
        r#"{"alg":"HS512"}"#,
    ] {
        let token = format!("{}.{}.", b64.encode(header), b64.encode(&payload));
        let answer = app.create(&token, png_request(100)).await;
        assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");
        assert_eq!(answer.1["error"], "the token was refused", "{header}");
    }
    assert_eq!(app.count("owner-1").await, 0);
}

#[tokio::test]
async fn the_wrong_issuer_is_401() {
    let app = spawn_app().await;
    let token = hs256(claims("https://somebody-else.example", 600), &DEV_SECRET);
    assert_error(
        &app.create(&token, png_request(100)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let mut no_issuer = claims(DEV_ISSUER, 600);
    no_issuer.as_object_mut().unwrap().remove("iss");
    let token = hs256(no_issuer, &DEV_SECRET);
    assert_error(
        &app.create(&token, png_request(100)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
}

#[tokio::test]
async fn the_wrong_role_is_403() {
    let app = spawn_app().await;
    let moderator = app.token("mod-1", Role::Moderator);
    assert_error(
        &app.create(&moderator, png_request(100)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &app.get(&moderator, "/api/uploads").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let mut no_groups = claims(DEV_ISSUER, 600);
    no_groups["cognito:groups"] = json!(["admins"]);
    let token = hs256(no_groups, &DEV_SECRET);
    assert_error(
        &app.create(&token, png_request(100)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(app.count("mod-1").await, 0);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = spawn_app().await;
    let token = app.owner("owner-1");
    assert_error(
        &app.get(&token, "/api/nothing-here").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let response = app
        .http
        .delete(app.url("/api/uploads"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(
        &crate::app::read(response).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}
