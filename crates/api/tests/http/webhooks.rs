//! The admin webhook routes: what admins may do, what everyone else gets, and every refusal.

use reqwest::StatusCode;
use serde_json::{Value, json};
use vetted_core::events::EventType;
use vetted_core::ports::Webhooks;
use vetted_core::webhooks::{Attempt, AttemptNext, Delivery, EndpointId, WebhookSecret};
use vetted_core::{Clock, UploadId};

use crate::app::{AppOptions, RESTAURANT, TestApp, assert_error, spawn_app, spawn_with};
use crate::schemas::assert_matches;

const URL: &str = "https://hooks.example/vetted";

async fn create(app: &TestApp, body: Value) -> Value {
    let answer = app
        .post(&app.admin("admin-1"), "/api/webhooks", &body.to_string())
        .await;
    assert_eq!(answer.0, StatusCode::CREATED, "{}", answer.1);
    assert_matches("webhook-created.json", &answer.1);
    answer.1
}

fn id_of(body: &Value) -> EndpointId {
    EndpointId::parse(body["id"].as_str().unwrap()).unwrap()
}

fn no_secret_in(body: &Value) {
    let text = body.to_string();
    assert!(
        !text.contains("whsec_") && !text.contains("\"secret\""),
        "{text}"
    );
}

#[tokio::test]
async fn an_admin_creates_reads_changes_and_deletes_an_endpoint_and_sees_the_secret_once() {
    let app = spawn_app().await;
    let admin = app.admin("admin-1");
    let created = create(
        &app,
        json!({"url": URL, "event_types": ["upload.published", "upload.published", "slot.changed"], "restaurant": RESTAURANT}),
    )
    .await;
    let id = id_of(&created);
    let secret = created["secret"].as_str().unwrap();
    let stored = app.webhooks.get(&id).await.unwrap();
    assert_eq!(
        stored.secret.expose(),
        secret,
        "the secret shown is the one that signs"
    );
    assert_eq!(
        created["event_types"],
        json!(["upload.published", "slot.changed"])
    );
    assert_eq!(created["restaurant"], RESTAURANT);
    assert_eq!(created["enabled"], true);

    let (status, one) = app.get(&admin, &format!("/api/webhooks/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_matches("webhook.json", &one);
    no_secret_in(&one);
    let (status, list) = app.get(&admin, "/api/webhooks").await;
    assert_eq!(status, StatusCode::OK);
    assert_matches("webhook-list.json", &list);
    no_secret_in(&list);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let path = format!("/api/webhooks/{id}");
    let (status, changed) = app
        .patch(&admin, &path, r#"{"url": "https://other.example/h", "event_types": [], "restaurant": null, "enabled": false}"#)
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_matches("webhook.json", &changed);
    assert_eq!(changed["url"], "https://other.example/h");
    assert_eq!(changed["event_types"], json!([]));
    assert!(changed.get("restaurant").is_none());
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["disabled_reason"], "disabled by admin-1");
    let (_, enabled) = app.patch(&admin, &path, r#"{"enabled": true}"#).await;
    assert_eq!(enabled["enabled"], true);
    assert!(enabled.get("disabled_reason").is_none());
    assert_eq!(
        enabled["url"], "https://other.example/h",
        "absent fields stay"
    );
    assert_eq!(
        app.webhooks.get(&id).await.unwrap().secret.expose(),
        secret,
        "PATCH keeps the secret"
    );

    assert_eq!(app.delete(&admin, &path).await, StatusCode::NO_CONTENT);
    assert_error(
        &app.get(&admin, &path).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn rotating_shows_the_new_secret_once_and_keeps_the_old_one_signing_for_a_day() {
    let app = spawn_app().await;
    let admin = app.admin("admin-1");
    let created = create(&app, json!({"url": URL})).await;
    let id = id_of(&created);
    let (status, rotated) = app
        .post(&admin, &format!("/api/webhooks/{id}/rotate"), "")
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_matches("webhook-created.json", &rotated);
    assert_ne!(rotated["secret"], created["secret"]);
    let stored = app.webhooks.get(&id).await.unwrap();
    assert_eq!(stored.secret.expose(), rotated["secret"].as_str().unwrap());
    assert_eq!(
        stored.previous_secret.as_ref().map(WebhookSecret::expose),
        created["secret"].as_str()
    );
    let now = app.clock.now();
    assert_eq!(stored.signing_secrets(now).len(), 2, "both sign now");
    let day = std::time::Duration::from_secs(24 * 3600);
    assert_eq!(stored.previous_until, Some(now.saturating_add(day)));
    assert_eq!(
        stored.signing_secrets(now.saturating_add(day)).len(),
        1,
        "then only the new"
    );
    let (_, one) = app.get(&admin, &format!("/api/webhooks/{id}")).await;
    assert_matches("webhook.json", &one);
    no_secret_in(&one);
    assert!(one["previous_secret_until"].is_string());
}

#[tokio::test]
async fn deliveries_are_listed_and_an_admin_retries_one() {
    let app = spawn_app().await;
    let admin = app.admin("admin-1");
    let id = id_of(&create(&app, json!({"url": URL})).await);
    let now = app.clock.now();
    let event =
        vetted_contract::events::sample_event(UploadId::generate(), EventType::UploadPublished);
    let delivery = Delivery::new(id, &event, "{}".to_owned(), now);
    app.webhooks.enqueue(&delivery).await.unwrap();
    app.webhooks
        .claim_due(now, std::time::Duration::from_secs(60), 10)
        .await
        .unwrap();
    let failed = Attempt {
        at: now,
        response: Some(500),
        error: Some("HTTP 500".into()),
        next: AttemptNext::Failed,
    };
    app.webhooks.record(&delivery.id, &failed).await.unwrap();

    let (status, list) = app
        .get(&admin, &format!("/api/webhooks/{id}/deliveries"))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_matches("webhook-delivery-list.json", &list);
    let item = &list["items"][0];
    assert_eq!(
        (item["status"].as_str(), item["attempts"].as_u64()),
        (Some("failed"), Some(1))
    );
    assert_eq!(item["last_response_code"], 500);
    assert_eq!(item["event_id"], event.id);

    let retry = format!("/api/webhooks/{id}/deliveries/{}/retry", delivery.id);
    let (status, retried) = app.post(&admin, &retry, "").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{retried}");
    assert_matches("webhook-delivery.json", &retried);
    assert_eq!(retried["status"], "pending");
    assert!(retried["next_attempt_at"].is_string());

    // A disabled endpoint's deliveries are not retried until it is enabled again.
    app.patch(
        &admin,
        &format!("/api/webhooks/{id}"),
        r#"{"enabled": false}"#,
    )
    .await;
    assert_error(
        &app.post(&admin, &retry, "").await,
        StatusCode::CONFLICT,
        "webhook_disabled",
    );
    let unknown = format!(
        "/api/webhooks/{id}/deliveries/{}/retry",
        UploadId::generate()
    );
    assert_error(
        &app.post(&admin, &unknown, "").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let malformed = format!("/api/webhooks/{id}/deliveries/nope/retry");
    assert_error(
        &app.post(&admin, &malformed, "").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let query = format!("/api/webhooks/{id}/deliveries?limit=0");
    assert_error(
        &app.get(&admin, &query).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    );
    let query = format!("/api/webhooks/{id}/deliveries?colour=red");
    assert_error(
        &app.get(&admin, &query).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    );
}

/// Every route, as (method, path, body).
fn routes(id: &str, delivery: &str) -> Vec<(&'static str, String, &'static str)> {
    vec![
        ("GET", "/api/webhooks".to_owned(), ""),
        (
            "POST",
            "/api/webhooks".to_owned(),
            r#"{"url": "https://hooks.example/x"}"#,
        ),
        ("GET", format!("/api/webhooks/{id}"), ""),
        (
            "PATCH",
            format!("/api/webhooks/{id}"),
            r#"{"enabled": true}"#,
        ),
        ("DELETE", format!("/api/webhooks/{id}"), ""),
        ("POST", format!("/api/webhooks/{id}/rotate"), ""),
        ("GET", format!("/api/webhooks/{id}/deliveries"), ""),
        (
            "POST",
            format!("/api/webhooks/{id}/deliveries/{delivery}/retry"),
            "",
        ),
    ]
}

async fn send(
    app: &TestApp,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: &str,
) -> (StatusCode, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app
        .http
        .request(method, app.url(path))
        .body(body.to_owned());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    crate::app::read(request.send().await.unwrap()).await
}

#[tokio::test]
async fn only_admins_reach_any_webhook_route() {
    let app = spawn_app().await;
    let id = id_of(&create(&app, json!({"url": URL})).await);
    let (owner, moderator) = (app.owner(crate::app::OWNER), app.moderator("mod-1"));
    for (method, path, body) in routes(&id.to_string(), &UploadId::generate().to_string()) {
        let answer = send(&app, None, method, &path, body).await;
        assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");
        for token in [&owner, &moderator] {
            let answer = send(&app, Some(token), method, &path, body).await;
            assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
        }
    }
    // Nothing changed: the endpoint is still there, alone, with no new secret.
    let (_, list) = app.get(&app.admin("a"), "/api/webhooks").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_not_found_on_every_route() {
    let app = spawn_app().await;
    let admin = app.admin("admin-1");
    for id in [EndpointId::generate().to_string(), "not-an-id".to_owned()] {
        for (method, path, body) in routes(&id, &UploadId::generate().to_string())
            .into_iter()
            .skip(2)
        {
            let answer = send(&app, Some(&admin), method, &path, body).await;
            assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
        }
    }
}

#[tokio::test]
async fn malformed_oversized_and_unknown_bodies_are_refused() {
    let app = spawn_app().await;
    let admin = app.admin("admin-1");
    let id = id_of(&create(&app, json!({"url": URL})).await);
    let patch = format!("/api/webhooks/{id}");
    let big = format!(
        r#"{{"url": "https://hooks.example/{}"}}"#,
        "a".repeat(65 * 1024)
    );
    for (method, path) in [("POST", "/api/webhooks"), ("PATCH", patch.as_str())] {
        for (body, status, reason) in [
            ("{", StatusCode::BAD_REQUEST, "invalid_json"),
            ("", StatusCode::BAD_REQUEST, "invalid_json"),
            (
                r#"{"url": "https://h.example/", "secret": "whsec_x"}"#,
                StatusCode::BAD_REQUEST,
                "unknown_field",
            ),
            (r#"{"url": 7}"#, StatusCode::BAD_REQUEST, "invalid_request"),
            (
                r#"{"url": "https://h.example/", "event_types": ["upload.exploded"]}"#,
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                r#"{"url": "https://h.example/", "restaurant": "no-such-place"}"#,
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                r#"{"url": "https://h.example/", "restaurant": "Not An Id"}"#,
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                big.as_str(),
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            ),
        ] {
            let answer = send(&app, Some(&admin), method, path, body).await;
            assert_error(&answer, status, reason);
        }
    }
    // POST needs a URL; PATCH does not.
    assert_error(
        &send(&app, Some(&admin), "POST", "/api/webhooks", "{}").await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    let (_, list) = app.get(&admin, "/api/webhooks").await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "nothing was created"
    );
    assert_eq!(
        app.webhooks.get(&id).await.unwrap().url,
        URL,
        "nothing was changed"
    );
}

#[tokio::test]
async fn bad_and_inside_urls_are_refused_at_creation_and_on_change() {
    let app = spawn_app().await;
    let admin = app.admin("admin-1");
    let id = id_of(&create(&app, json!({"url": URL})).await);
    let patch = format!("/api/webhooks/{id}");
    for (url, reason) in [
        ("http://hooks.example/x", "invalid_webhook_url"),
        ("ftp://hooks.example/x", "invalid_webhook_url"),
        ("hooks.example/x", "invalid_webhook_url"),
        ("https://user:pw@hooks.example/x", "invalid_webhook_url"),
        ("https://127.0.0.1:8080/x", "forbidden_webhook_address"),
        ("https://localhost/x", "forbidden_webhook_address"),
        ("https://10.1.2.3/x", "forbidden_webhook_address"),
        ("https://192.168.0.10/x", "forbidden_webhook_address"),
        (
            "https://169.254.169.254/latest/meta-data/",
            "forbidden_webhook_address",
        ),
        ("https://100.64.1.1/x", "forbidden_webhook_address"),
        ("https://[::1]/x", "forbidden_webhook_address"),
        ("https://[fd00:ec2::254]/x", "forbidden_webhook_address"),
        ("https://[fe80::1]/x", "forbidden_webhook_address"),
        ("https://0.0.0.0/x", "forbidden_webhook_address"),
    ] {
        let body = json!({"url": url}).to_string();
        let answer = app.post(&admin, "/api/webhooks", &body).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, reason);
        assert_error(
            &app.patch(&admin, &patch, &body).await,
            StatusCode::BAD_REQUEST,
            reason,
        );
    }
    assert_eq!(app.webhooks.list().await.unwrap().len(), 1);
    assert_eq!(app.webhooks.get(&id).await.unwrap().url, URL);
}

#[tokio::test]
async fn a_server_that_allows_private_addresses_takes_a_loopback_http_url() {
    let app = spawn_with(AppOptions {
        allow_private_webhooks: true,
        ..AppOptions::default()
    })
    .await;
    let created = create(&app, json!({"url": "http://127.0.0.1:9/hook"})).await;
    assert_eq!(created["url"], "http://127.0.0.1:9/hook");
}
