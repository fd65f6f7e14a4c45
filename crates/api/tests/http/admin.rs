//! The admin recovery routes: an admin lists what failed, redrives a FAILED upload (dry run
//! first, then for real, then again to no effect), redrives a queue's dead letters and
//! expires stale intents, rescans one upload and a slot kind page by page, purges a restaurant
//! and a user (dry run first, then for real, then again to no effect), bans, lists and unbans
//! a SHA-256; every refusal.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use vetted_core::ports::Uploads;
use vetted_core::record::{FileName, RecordChanges, Transition, UploadMethod};
use vetted_core::{Clock, ImageType, ReasonCode, Status, UploadId, UploadRecord};

use crate::app::{OWNER, TestApp, assert_error, spawn_app};
use crate::schemas::assert_matches;

/// An upload that intake accepted and whose review then failed.
async fn failed_upload(app: &TestApp) -> UploadId {
    let png = vetted_samples::images::png(200, 100);
    let now = app.clock.now();
    let intent = UploadRecord::new_intent(
        UploadId::generate(),
        vetted_core::OwnerId::parse(OWNER).unwrap(),
        format!("{}/logo", crate::app::RESTAURANT).parse().unwrap(),
        FileName::parse("logo.png").unwrap(),
        ImageType::Png,
        png.len() as u64,
        UploadMethod::Post,
        now,
        now.saturating_add(Duration::from_secs(300)),
    );
    app.uploads.create(&intent).await.unwrap();
    let meta = app
        .ports
        .objects
        .put(&intent.key, png.into(), "image/png")
        .await
        .unwrap();
    let version = meta
        .version
        .unwrap_or_else(|| meta.etag.trim_matches('"').to_owned());
    let received = Transition::new(Status::AwaitingUpload, Status::Received, now)
        .unwrap()
        .with(RecordChanges {
            object_version: Some(version.clone()),
            detected_type: Some(ImageType::Png),
            width: Some(200),
            height: Some(100),
            execution_name: Some(vetted_core::intake::execution_name(&intent.id, &version)),
            ..Default::default()
        });
    app.uploads.transition(&intent.id, &received).await.unwrap();
    let failed = Transition::new(Status::Received, Status::Failed, now)
        .unwrap()
        .with(RecordChanges {
            reason: Some(ReasonCode::ProcessingFailed),
            failure: Some("sanitize timed out".to_owned()),
            ..Default::default()
        });
    app.uploads.transition(&intent.id, &failed).await.unwrap();
    intent.id
}

#[tokio::test]
async fn an_admin_lists_and_redrives_a_failed_upload_once() {
    let app = spawn_app().await;
    let admin = app.admin("admin-1");
    let id = failed_upload(&app).await;

    let (status, failed) = app.get(&admin, "/api/admin/failed").await;
    assert_eq!(status, StatusCode::OK, "{failed}");
    assert_matches("admin-failed.json", &failed);
    assert_eq!(failed["uploads"][0]["upload_id"], id.to_string());
    assert_eq!(failed["uploads"][0]["failure"], "sanitize timed out");
    assert_eq!(failed["uploads"][0]["reason"], "processing_failed");

    let path = format!("/api/admin/uploads/{id}/redrive");
    let (status, dry) = app.post(&admin, &format!("{path}?dry_run=true"), "").await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_matches("admin-upload-redrive.json", &dry);
    assert_eq!(dry["outcome"], "would_redrive");
    assert_eq!(app.uploads.get(&id).await.unwrap().status, Status::Failed);

    let (status, done) = app.post(&admin, &path, "").await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_matches("admin-upload-redrive.json", &done);
    assert_eq!(done["outcome"], "redriven");
    assert_eq!(done["execution"], dry["execution"]);
    let record = app.uploads.get(&id).await.unwrap();
    assert_eq!(record.status, Status::Received);
    assert_eq!(
        record.execution_name.map(|e| e.to_string()),
        done["execution"].as_str().map(str::to_owned)
    );

    let (status, again) = app.post(&admin, &path, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["outcome"], "not_failed");
    assert_eq!(again["status"], "RECEIVED");

    // The trail holds the one redrive that happened: not the dry run, not the no-op.
    let (status, history) = app.get(&admin, &format!("/api/uploads/{id}/history")).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_matches("upload-history.json", &history);
    let entries = history["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{history}");
    assert_eq!(entries[0]["action"], "redrive");
    assert_eq!(entries[0]["actor"], "admin-1");
}

#[tokio::test]
async fn an_admin_redrives_dead_letters_and_expires_intents() {
    let app = spawn_app().await;
    let admin = app.admin("admin-1");
    let (status, moved) = app
        .post(
            &admin,
            "/api/admin/queues/sanitize/redrive?dry_run=true",
            "",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_matches("admin-queue-redrive.json", &moved);
    assert_eq!(
        moved,
        json!({"queue": "sanitize", "moved": 0, "dry_run": true})
    );
    let (status, moved) = app
        .post(&admin, "/api/admin/queues/review-tasks/redrive", "")
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["moved"], 0);

    let now = app.clock.now();
    let stale = UploadRecord::new_intent(
        UploadId::generate(),
        vetted_core::OwnerId::parse(OWNER).unwrap(),
        format!("{}/logo", crate::app::RESTAURANT).parse().unwrap(),
        FileName::parse("logo.png").unwrap(),
        ImageType::Png,
        10,
        UploadMethod::Post,
        now,
        now,
    );
    app.uploads.create(&stale).await.unwrap();
    app.clock.advance(Duration::from_secs(1));
    let (status, dry) = app.post(&admin, "/api/admin/expire?dry_run=true", "").await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_matches("admin-expire.json", &dry);
    assert_eq!(dry, json!({"stale": [stale.id.to_string()], "swept": null}));
    assert_eq!(
        app.uploads.get(&stale.id).await.unwrap().status,
        Status::AwaitingUpload
    );
    let (status, done) = app.post(&admin, "/api/admin/expire", "").await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_matches("admin-expire.json", &done);
    assert_eq!(done["swept"]["expired"], 1);
    assert_eq!(
        app.uploads.get(&stale.id).await.unwrap().status,
        Status::Expired
    );
    let (_, again) = app.post(&admin, "/api/admin/expire", "").await;
    assert_eq!(again["stale"], json!([]), "nothing left to expire");
}

fn routes(upload: &str) -> Vec<(&'static str, String)> {
    vec![
        ("GET", "/api/admin/failed".to_owned()),
        ("POST", format!("/api/admin/uploads/{upload}/redrive")),
        ("POST", "/api/admin/queues/sanitize/redrive".to_owned()),
        ("POST", "/api/admin/expire".to_owned()),
        ("POST", "/api/admin/rescan".to_owned()),
        ("POST", "/api/admin/purge".to_owned()),
        ("GET", "/api/admin/banned".to_owned()),
        ("GET", format!("/api/admin/banned/{BANNED_HEX}")),
        ("PUT", format!("/api/admin/banned/{BANNED_HEX}")),
        ("DELETE", format!("/api/admin/banned/{BANNED_HEX}")),
    ]
}

/// `printf hello | sha256sum`.
const BANNED_HEX: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

async fn send(app: &TestApp, token: Option<&str>, method: &str, path: &str) -> (StatusCode, Value) {
    let mut request = app.http.request(method.parse().unwrap(), app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    crate::app::read(request.send().await.unwrap()).await
}

#[tokio::test]
async fn only_admins_reach_the_admin_routes_and_nothing_moves_otherwise() {
    let app = spawn_app().await;
    let id = failed_upload(&app).await;
    let (owner, moderator) = (app.owner(OWNER), app.moderator("mod-1"));
    for (method, path) in routes(&id.to_string()) {
        let answer = send(&app, None, method, &path).await;
        assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");
        for token in [&owner, &moderator] {
            let answer = send(&app, Some(token), method, &path).await;
            assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
        }
    }
    assert_eq!(app.uploads.get(&id).await.unwrap().status, Status::Failed);
}

#[tokio::test]
async fn unknown_ids_queues_and_bad_queries_are_refused() {
    let app = spawn_app().await;
    let admin = app.admin("admin-1");
    for path in [
        format!("/api/admin/uploads/{}/redrive", UploadId::generate()),
        "/api/admin/uploads/not-an-id/redrive".to_owned(),
        "/api/admin/queues/no-such-queue/redrive".to_owned(),
    ] {
        let answer = send(&app, Some(&admin), "POST", &path).await;
        assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    }
    let id = failed_upload(&app).await;
    for query in ["dry_run=maybe", "dry_run=true&force=1"] {
        for path in [
            format!("/api/admin/uploads/{id}/redrive?{query}"),
            format!("/api/admin/queues/sanitize/redrive?{query}"),
            format!("/api/admin/expire?{query}"),
        ] {
            let answer = send(&app, Some(&admin), "POST", &path).await;
            assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_query");
        }
    }
    let answer = send(&app, Some(&admin), "DELETE", "/api/admin/expire").await;
    assert_error(
        &answer,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    assert_eq!(app.uploads.get(&id).await.unwrap().status, Status::Failed);
}

#[tokio::test]
async fn an_admin_rescans_one_upload_and_a_slot_kind_page_by_page() {
    let app = spawn_app().await;
    let admin = app.admin("admin-1");
    let id = failed_upload(&app).await;
    let since = app.uploads.get(&id).await.unwrap().created_at;
    let (status, _) = app
        .post(&admin, &format!("/api/admin/uploads/{id}/redrive"), "")
        .await;
    assert_eq!(status, StatusCode::OK);

    let body = json!({"upload": id.to_string()}).to_string();
    let (status, one) = app.post(&admin, "/api/admin/rescan", &body).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_matches("admin-rescan-page.json", &one);
    assert_eq!(one["results"][0]["verdict"], "passes");
    assert_eq!(one["results"][0]["status"], "RECEIVED");
    assert_eq!(one["next"], Value::Null);

    let mut request = json!({"slot_kind": "logo", "since": since.to_rfc3339(), "limit": 1});
    let mut found = Vec::new();
    for _ in 0..20 {
        let (status, page) = app
            .post(&admin, "/api/admin/rescan", &request.to_string())
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_matches("admin-rescan-page.json", &page);
        found.extend(page["results"].as_array().unwrap().iter().cloned());
        if page["next"].is_null() {
            break;
        }
        request["cursor"] = page["next"].clone();
    }
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["upload_id"], id.to_string());

    let later = json!({"slot_kind": "cover", "since": since.to_rfc3339(), "dry_run": true});
    let (status, page) = app
        .post(&admin, "/api/admin/rescan", &later.to_string())
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["results"], json!([]), "no cover uploads");
}

#[tokio::test]
async fn malformed_unknown_and_oversized_rescan_requests_are_refused() {
    let app = spawn_app().await;
    let admin = app.admin("admin-1");
    let since = "2026-01-01T00:00:00Z";
    let big = format!(r#"{{"upload": "{}"}}"#, "a".repeat(65 * 1024));
    let stranger = UploadId::generate().to_string();
    for (body, status, reason) in [
        ("{".to_owned(), StatusCode::BAD_REQUEST, "invalid_json"),
        (String::new(), StatusCode::BAD_REQUEST, "invalid_json"),
        ("{}".to_owned(), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            json!({"upload": stranger, "slot_kind": "logo", "since": since}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"slot_kind": "poster", "since": since}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"slot_kind": "logo", "since": "yesterday"}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"slot_kind": "logo", "since": since, "limit": 0}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"slot_kind": "logo", "since": since, "limit": 101}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"slot_kind": "logo", "since": since, "force": true}).to_string(),
            StatusCode::BAD_REQUEST,
            "unknown_field",
        ),
        (
            json!({"slot_kind": "logo", "since": since, "cursor": {"status": 0, "after": "garbage"}})
                .to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_page_token",
        ),
        (
            json!({"upload": stranger}).to_string(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            json!({"upload": "not-an-id"}).to_string(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (big, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
    ] {
        let answer = app.post(&admin, "/api/admin/rescan", &body).await;
        assert_error(&answer, status, reason);
    }
}

/// The user-visible state of one upload: its record, and whether each of its keys holds an
/// object.
async fn gone_everywhere(app: &TestApp, id: &UploadId, keys: &[Value]) {
    assert!(
        matches!(
            app.uploads.get(id).await,
            Err(vetted_core::ports::UploadsError::NotFound(_))
        ),
        "the record of {id} is left"
    );
    for key in keys {
        let key = vetted_core::ObjectKey::parse(key.as_str().unwrap()).unwrap();
        assert!(app.ports.objects.head(&key).await.is_err(), "{key} is left");
    }
}

#[tokio::test]
async fn an_admin_purges_a_restaurant_after_a_dry_run_and_again_to_no_effect() {
    use vetted_core::ports::Restaurants;
    let app = spawn_app().await;
    let admin = app.admin("admin-1");
    let id = failed_upload(&app).await;
    let body = json!({"restaurant": crate::app::RESTAURANT, "dry_run": true}).to_string();
    let (status, dry) = app.post(&admin, "/api/admin/purge", &body).await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_matches("admin-purge.json", &dry);
    assert_eq!(dry["uploads"][0]["upload_id"], id.to_string());
    assert_eq!(dry["restaurant"], true);
    assert_eq!(dry["audit_entry"], Value::Null);
    assert_eq!(app.uploads.get(&id).await.unwrap().status, Status::Failed);
    let restaurant = vetted_core::RestaurantId::parse(crate::app::RESTAURANT).unwrap();
    assert!(
        app.restaurants.get(&restaurant).await.is_ok(),
        "a dry run deletes nothing"
    );

    let body = json!({"restaurant": crate::app::RESTAURANT}).to_string();
    let (status, done) = app.post(&admin, "/api/admin/purge", &body).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_matches("admin-purge.json", &done);
    let keys = done["uploads"][0]["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 5, "{done}");
    gone_everywhere(&app, &id, &keys).await;
    assert!(app.restaurants.get(&restaurant).await.is_err());
    assert_eq!(done["restaurant"], true);
    let entry_id = done["audit_entry"].as_str().unwrap().to_owned();

    let (status, audit) = app
        .get(&admin, "/api/audit?since=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let entry = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == entry_id.as_str())
        .unwrap_or_else(|| panic!("no purge entry in {audit}"));
    assert_eq!(entry["action"], "purge");
    assert_eq!(entry["actor"], "admin-1");
    assert_eq!(entry["restaurant"], crate::app::RESTAURANT);

    let (status, again) = app.post(&admin, "/api/admin/purge", &body).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["uploads"], json!([]));
    assert_eq!(again["restaurant"], false);
    assert_eq!(again["memberships"], 0);
}

#[tokio::test]
async fn an_admin_purges_a_user_with_their_memberships_and_email_preference() {
    use vetted_core::ports::{Notifications, Restaurants};
    let app = spawn_app().await;
    let admin = app.admin("admin-1");
    let id = failed_upload(&app).await;
    let owner = vetted_core::OwnerId::parse(OWNER).unwrap();
    let (status, set) = app
        .put(
            &crate::me::owner_with_email(&app, OWNER, "owner@example.com"),
            "/api/me/notifications",
            r#"{"enabled": true}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert!(
        app.notifications
            .preference(&owner)
            .await
            .unwrap()
            .is_some()
    );
    let body = json!({"user": OWNER}).to_string();
    let (status, done) = app.post(&admin, "/api/admin/purge", &body).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_matches("admin-purge.json", &done);
    assert_eq!(done["target"], json!({"user": OWNER}));
    assert_eq!(done["notification_preference"], true);
    assert!(done["memberships"].as_u64().unwrap() >= 1, "{done}");
    let keys = done["uploads"][0]["keys"].as_array().unwrap().clone();
    gone_everywhere(&app, &id, &keys).await;
    assert_eq!(app.notifications.preference(&owner).await.unwrap(), None);
    assert!(
        app.restaurants
            .restaurants_of(&owner)
            .await
            .unwrap()
            .is_empty()
    );
    let restaurant = vetted_core::RestaurantId::parse(crate::app::RESTAURANT).unwrap();
    assert!(
        app.restaurants.get(&restaurant).await.is_ok(),
        "a user's purge keeps their restaurant"
    );
    let (_, again) = app.post(&admin, "/api/admin/purge", &body).await;
    assert_eq!(again["uploads"], json!([]));
    assert_eq!(again["memberships"], 0);
    assert_eq!(again["notification_preference"], false);
}

#[tokio::test]
async fn malformed_and_oversized_purge_requests_are_refused_and_delete_nothing() {
    let app = spawn_app().await;
    let admin = app.admin("admin-1");
    let id = failed_upload(&app).await;
    let big = format!(r#"{{"user": "{}"}}"#, "a".repeat(65 * 1024));
    for (body, status, reason) in [
        ("{".to_owned(), StatusCode::BAD_REQUEST, "invalid_json"),
        (String::new(), StatusCode::BAD_REQUEST, "invalid_json"),
        ("{}".to_owned(), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            json!({"restaurant": crate::app::RESTAURANT, "user": OWNER}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"restaurant": "Roma/../x"}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user": "a/b"}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user": OWNER, "force": true}).to_string(),
            StatusCode::BAD_REQUEST,
            "unknown_field",
        ),
        (
            json!({"user": OWNER, "dry_run": "yes"}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (big, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
    ] {
        let answer = app.post(&admin, "/api/admin/purge", &body).await;
        assert_error(&answer, status, reason);
    }
    assert_eq!(app.uploads.get(&id).await.unwrap().status, Status::Failed);
}

#[tokio::test]
async fn an_admin_bans_lists_and_unbans_a_sha256_and_each_change_is_audited() {
    let app = spawn_app().await;
    let admin = app.admin("admin-1");
    let path = format!("/api/admin/banned/{}", BANNED_HEX.to_uppercase());
    let (status, body) = app.put(&admin, &path, r#"{"note": "spam"}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_matches("admin-banned.json", &json!({"items": [body.clone()]}));
    assert_eq!(body["sha256_hex"], BANNED_HEX);
    assert_eq!(
        body["sha256"],
        "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
    );
    assert_eq!(body["by"], "admin-1");
    let (status, body) = app.put(&admin, &path, "{}").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a second ban replaces the note: {body}"
    );
    assert_eq!(body.get("note"), None, "{body}");
    let (status, listed) = app.get(&admin, "/api/admin/banned").await;
    assert_eq!(status, StatusCode::OK);
    assert_matches("admin-banned.json", &listed);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    let (status, one) = app.get(&admin, &path).await;
    assert_eq!(
        (status, &one["sha256_hex"]),
        (StatusCode::OK, &json!(BANNED_HEX))
    );
    assert_eq!(app.delete(&admin, &path).await, StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&admin, &path).await, StatusCode::NOT_FOUND);
    let answer = app.get(&admin, &path).await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    let (_, trail) = app
        .get(&admin, "/api/audit?since=2000-01-01T00:00:00Z&limit=100")
        .await;
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["note"].as_str().is_some_and(|n| n.contains(BANNED_HEX)))
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["ban", "ban", "unban"], "{trail}");
}

#[tokio::test]
async fn malformed_and_oversized_ban_requests_are_refused_and_ban_nothing() {
    let app = spawn_app().await;
    let admin = app.admin("admin-1");
    let good = format!("/api/admin/banned/{BANNED_HEX}");
    for digest in [
        "abc".to_owned(),
        format!("{BANNED_HEX}00"),
        BANNED_HEX.replace('2', "g"),
        "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=".to_owned(),
    ] {
        let path = format!(
            "/api/admin/banned/{}",
            digest.replace('+', "%2B").replace('/', "%2F")
        );
        let answer = app.put(&admin, &path, "{}").await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_sha256");
        let answer = send(&app, Some(&admin), "DELETE", &path).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_sha256");
    }
    let big = format!(r#"{{"note": "{}"}}"#, "a".repeat(65 * 1024));
    for (body, status, reason) in [
        ("{".to_owned(), StatusCode::BAD_REQUEST, "invalid_json"),
        (String::new(), StatusCode::BAD_REQUEST, "invalid_json"),
        (
            json!({"note": "x", "force": true}).to_string(),
            StatusCode::BAD_REQUEST,
            "unknown_field",
        ),
        (
            json!({"note": 5}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"note": "n".repeat(1001)}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (big, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
    ] {
        let answer = app.put(&admin, &good, &body).await;
        assert_error(&answer, status, reason);
    }
    let (_, listed) = app.get(&admin, "/api/admin/banned").await;
    assert_eq!(listed["items"], json!([]), "nothing was banned");
}
