//! The audit trail's routes: an upload's history (moderators whole, members without moderator
//! ids, anyone else 404) and the admins' listing, over the real pipeline.

use reqwest::StatusCode;
use serde_json::{Value, json};
use vetted_core::{Policy, UploadId};

use crate::app::{AppOptions, TestApp, assert_error, spawn_app, spawn_with};
use crate::reviews::upload_in_review;
use crate::schemas::assert_matches;

async fn decide(app: &TestApp, moderator: &str, id: &UploadId, body: Value) -> StatusCode {
    let path = format!("/api/reviews/{id}/decision");
    app.post(&app.moderator(moderator), &path, &body.to_string())
        .await
        .0
}

fn actions(history: &Value) -> Vec<(String, String)> {
    history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decline_is_in_the_history_with_its_moderator_for_moderators_only() {
    let app = spawn_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    let body = json!({"decision": "decline", "reason": "copyright"});
    assert_eq!(decide(&app, "mod-1", &id, body).await, StatusCode::OK);
    app.pump().await;
    let path = format!("/api/uploads/{id}/history");

    let (status, history) = app.get(&app.moderator("mod-2"), &path).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_matches("upload-history.json", &history);
    assert_eq!(history["status"], "DECLINED");
    assert_eq!(actions(&history), [("decline".into(), "mod-1".into())]);
    assert_eq!(history["entries"][0]["reason"], "copyright");
    assert_eq!(history["entries"][0]["restaurant"], "r1");

    // The member who asked sees the decision, not who made it.
    let (status, owners_view) = app.get(&app.owner("owner-a"), &path).await;
    assert_eq!(status, StatusCode::OK, "{owners_view}");
    assert_matches("upload-history.json", &owners_view);
    assert_eq!(
        actions(&owners_view),
        [("decline".into(), "moderator".into())]
    );
    assert!(!owners_view.to_string().contains("mod-1"), "{owners_view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_eyes_shows_both_approvals_in_order() {
    let app = spawn_with(AppOptions {
        policy: Policy {
            approvals_required: 2,
            ..Policy::default()
        },
        ..AppOptions::default()
    })
    .await;
    let id = upload_in_review(&app, "owner-a").await;
    let approve = json!({"decision": "approve"});
    assert_eq!(
        decide(&app, "mod-1", &id, approve.clone()).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(decide(&app, "mod-2", &id, approve).await, StatusCode::OK);
    app.pump().await;
    let (_, history) = app
        .get(
            &app.moderator("mod-3"),
            &format!("/api/uploads/{id}/history"),
        )
        .await;
    assert_eq!(history["status"], "PUBLISHED");
    assert_eq!(
        actions(&history),
        [
            ("first_approval".into(), "mod-1".into()),
            ("approve".into(), "mod-2".into())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_is_404_to_everyone_else() {
    let app = spawn_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    let path = format!("/api/uploads/{id}/history");
    // A user who is no member of the upload's restaurant: as if it did not exist.
    let answer = app.get(&app.owner("stranger"), &path).await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    for bad in [
        "/api/uploads/not-an-id/history",
        &format!("/api/uploads/{}/history", UploadId::generate()),
    ] {
        let answer = app.get(&app.moderator("mod-1"), bad).await;
        assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    }
    let response = app.http.get(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A member sees it, even with no entry yet.
    let (status, history) = app.get(&app.owner("owner-a"), &path).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history["entries"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_page_through_the_trail_since_an_instant() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for owner in ["owner-a", "owner-b", "owner-c"] {
        let id = upload_in_review(&app, owner).await;
        assert_eq!(
            decide(&app, "mod-1", &id, json!({"decision": "approve"})).await,
            StatusCode::OK
        );
        ids.push(id.to_string());
    }
    let mut seen = Vec::new();
    let mut path = "/api/audit?since=2020-01-01T00:00:00Z&limit=2".to_owned();
    loop {
        let (status, page) = app.get(&app.admin("admin-1"), &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_matches("audit-list.json", &page);
        assert!(page["items"].as_array().unwrap().len() <= 2);
        for item in page["items"].as_array().unwrap() {
            seen.push(item["upload"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => {
                path = format!("/api/audit?since=2020-01-01T00:00:00Z&limit=2&after={next}");
            }
            None => break,
        }
    }
    assert_eq!(seen, ids, "each decision once, oldest first");
    // The default window is the last day, which holds them too.
    let (_, recent) = app.get(&app.admin("admin-1"), "/api/audit").await;
    assert_eq!(recent["items"].as_array().unwrap().len(), 3, "{recent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trail_is_for_admins_and_refuses_bad_queries() {
    let app = spawn_app().await;
    for token in [app.moderator("mod-1"), app.owner("owner-a")] {
        let answer = app.get(&token, "/api/audit").await;
        assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
    }
    let response = app.http.get(app.url("/api/audit")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let admin = app.admin("admin-1");
    for bad in [
        "/api/audit?since=yesterday",
        "/api/audit?limit=0",
        "/api/audit?limit=101",
        "/api/audit?after=bm90LWEtdG9rZW4",
        "/api/audit?unknown=1",
        &format!("/api/audit?since={}", "9".repeat(5000)),
    ] {
        let answer = app.get(&admin, bad).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{bad}: {:?}", answer.1);
    }
}
