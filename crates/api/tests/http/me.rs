//! `GET/PUT /api/me/notifications`: an owner opts in with the address of their own verified
//! token, never one from the body, and every refusal has its reason. `GET/PUT
//! /api/me/escalations`: the same for a moderator's escalation emails.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use vetted_api::auth::Role;
use vetted_core::ports::Notifications;
use vetted_core::{Clock, ModeratorId, OwnerId, SystemClock};

use crate::app::{TestApp, assert_error, spawn_app};
use crate::schemas::assert_matches;

const PATH: &str = "/api/me/notifications";
const ESCALATIONS: &str = "/api/me/escalations";

pub(crate) fn owner_with_email(app: &TestApp, user: &str, email: &str) -> String {
    with_email(app, user, Role::Owner, email)
}

fn with_email(app: &TestApp, user: &str, role: Role, email: &str) -> String {
    app.dev_key
        .issue_with_email(
            user,
            &[role],
            Some(email),
            Duration::from_secs(600),
            SystemClock.now(),
        )
        .unwrap()
}

#[tokio::test]
async fn an_owner_opts_in_with_the_tokens_address_and_out_again() {
    let app = spawn_app().await;
    let token = owner_with_email(&app, "owner-1", "anna@example.com");
    let (status, body) = app.get(&token, PATH).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"enabled": false, "address": null}),
        "not opted in by default"
    );
    assert_matches("notification-preference.json", &body);

    let (status, body) = app.put(&token, PATH, r#"{"enabled": true}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"enabled": true, "address": "anna@example.com"})
    );
    assert_matches("notification-preference.json", &body);
    let stored = app
        .notifications
        .preference(&OwnerId::parse("owner-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.enabled);
    assert_eq!(stored.address.unwrap().as_str(), "anna@example.com");
    assert_eq!(app.get(&token, PATH).await.1, body);

    let (status, body) = app.put(&token, PATH, r#"{"enabled": false}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"enabled": false, "address": null}),
        "opting out forgets the address"
    );
}

#[tokio::test]
async fn every_refusal_has_its_reason() {
    let app = spawn_app().await;
    let with_email = owner_with_email(&app, "owner-1", "anna@example.com");

    // No token, or a bad one: 401, whatever the body.
    let answer = app.http.get(app.url(PATH)).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let answer = app.put("not-a-jwt", PATH, "{nonsense").await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");

    // A moderator is no restaurant member: 403.
    let answer = app.get(&app.moderator("mod-1"), PATH).await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
    let answer = app
        .put(&app.moderator("mod-1"), PATH, r#"{"enabled": true}"#)
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");

    // Opting in with a token that carries no address.
    let answer = app
        .put(&app.owner("owner-1"), PATH, r#"{"enabled": true}"#)
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "no_email_in_token");
    // Opting out needs none.
    let answer = app
        .put(&app.owner("owner-1"), PATH, r#"{"enabled": false}"#)
        .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);

    // The body never names an address.
    let answer = app
        .put(
            &with_email,
            PATH,
            r#"{"enabled": true, "address": "victim@example.com"}"#,
        )
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "unknown_field");
    let answer = app.put(&with_email, PATH, "{\"enabled\": tru").await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_json");
    let answer = app.put(&with_email, PATH, r#"{"enabled": "yes"}"#).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    let answer = app.put(&with_email, PATH, "{}").await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    let huge = format!(
        r#"{{"enabled": true, "pad": "{}"}}"#,
        "x".repeat(100 * 1024)
    );
    let answer = app.put(&with_email, PATH, &huge).await;
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let answer = app.post(&with_email, PATH, r#"{"enabled": true}"#).await;
    assert_error(
        &answer,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );

    // Nothing above stored an address.
    let stored = app
        .notifications
        .preference(&OwnerId::parse("owner-1").unwrap())
        .await
        .unwrap();
    assert!(
        stored
            .as_ref()
            .is_none_or(|p| !p.enabled && p.address.is_none()),
        "{stored:?}"
    );
}

#[tokio::test]
async fn an_address_marked_unverified_is_no_address() {
    let app = spawn_app().await;
    // A token an issuer marked `email_verified: false` (signed with the test app's dev key).
    let claims = json!({
        "sub": "owner-1",
        "iss": vetted_api::auth::DEV_ISSUER,
        "exp": SystemClock.now().unix_seconds() + 600,
        "cognito:groups": ["owners"],
        "email": "anna@example.com",
        "email_verified": false,
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&crate::app::DEV_SECRET),
    )
    .unwrap();
    let answer = app.put(&token, PATH, r#"{"enabled": true}"#).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "no_email_in_token");
}

#[tokio::test]
async fn a_moderator_subscribes_to_escalations_with_the_tokens_address_and_cancels() {
    let app = spawn_app().await;
    let token = with_email(&app, "mod-ada", Role::Moderator, "ada@example.com");
    let (status, body) = app.get(&token, ESCALATIONS).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"enabled": false, "address": null}));
    assert_matches("notification-preference.json", &body);

    let (status, body) = app.put(&token, ESCALATIONS, r#"{"enabled": true}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"enabled": true, "address": "ada@example.com"}));
    assert_matches("notification-preference.json", &body);
    assert_eq!(app.get(&token, ESCALATIONS).await.1, body);
    let ada = ModeratorId::parse("mod-ada").unwrap();
    let listed = app.notifications.escalation_subscribers().await.unwrap();
    assert!(
        listed
            .iter()
            .any(|s| s.moderator == ada && s.address.as_str() == "ada@example.com"),
        "{listed:?}"
    );

    let (status, body) = app.put(&token, ESCALATIONS, r#"{"enabled": false}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"enabled": false, "address": null}));
    assert_eq!(
        app.notifications
            .escalation_subscription(&ada)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn every_escalation_refusal_has_its_reason() {
    let app = spawn_app().await;
    let with_address = with_email(&app, "mod-ada", Role::Moderator, "ada@example.com");

    let answer = app.http.get(app.url(ESCALATIONS)).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let answer = app.put("not-a-jwt", ESCALATIONS, "{nonsense").await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");

    // Owners (with an address, even) and admins without the moderator role: 403.
    let owner = owner_with_email(&app, "owner-1", "anna@example.com");
    let admin_only = with_email(&app, "admin-1", Role::Admin, "root@example.com");
    for token in [owner, admin_only] {
        let answer = app.get(&token, ESCALATIONS).await;
        assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
        let answer = app.put(&token, ESCALATIONS, r#"{"enabled": true}"#).await;
        assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
    }

    let answer = app
        .put(
            &app.moderator("mod-ada"),
            ESCALATIONS,
            r#"{"enabled": true}"#,
        )
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "no_email_in_token");
    let answer = app
        .put(
            &with_address,
            ESCALATIONS,
            r#"{"enabled": true, "address": "victim@example.com"}"#,
        )
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "unknown_field");
    let answer = app
        .put(&with_address, ESCALATIONS, "{\"enabled\": tru")
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_json");
    let answer = app.put(&with_address, ESCALATIONS, "{}").await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    let huge = format!(
        r#"{{"enabled": true, "pad": "{}"}}"#,
        "x".repeat(100 * 1024)
    );
    let answer = app.put(&with_address, ESCALATIONS, &huge).await;
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    assert!(
        app.notifications
            .escalation_subscribers()
            .await
            .unwrap()
            .is_empty(),
        "nothing above subscribed anyone"
    );
}
