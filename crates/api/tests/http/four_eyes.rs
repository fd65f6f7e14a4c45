//! Four-eyes review and separation of duties, over the real pipeline: a slot kind that requires
//! two approvals, the `AWAITING_SECOND` status between them, and the moderators who may not
//! decide at all.

use reqwest::StatusCode;
use serde_json::{Value, json};
use vetted_core::events::EventType;
use vetted_core::ports::Uploads;
use vetted_core::{ObjectKey, Policy, Status, UploadId};

use crate::app::{AppOptions, TestApp, assert_error, spawn_app, spawn_with};
use crate::reviews::{exists, upload_in_review};
use crate::schemas::assert_matches;

async fn four_eyes_app() -> TestApp {
    spawn_with(AppOptions {
        policy: Policy {
            approvals_required: 2,
            ..Policy::default()
        },
        ..AppOptions::default()
    })
    .await
}

async fn decide(
    app: &TestApp,
    moderator: &str,
    id: &UploadId,
    decision: &str,
) -> (StatusCode, Value) {
    let path = format!("/api/reviews/{id}/decision");
    let body = json!({ "decision": decision }).to_string();
    app.post(&app.moderator(moderator), &path, &body).await
}

async fn status_of(app: &TestApp, id: &UploadId) -> Status {
    app.uploads.get(id).await.unwrap().status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_different_moderators_approve_and_the_image_is_published() {
    let app = four_eyes_app().await;
    let id = upload_in_review(&app, "owner-a").await;

    let (status, body) = decide(&app, "mod-1", &id, "approve").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_matches("decision-response.json", &body);
    assert_eq!(body["status"], "AWAITING_SECOND");
    assert_eq!(body["delivered"], false);
    app.pump().await;
    let record = app.uploads.get(&id).await.unwrap();
    assert_eq!(
        record.status,
        Status::AwaitingSecond,
        "one approval is not a decision"
    );
    assert_eq!(record.first_approver.as_ref().unwrap().as_str(), "mod-1");
    assert!(
        record.task_token.is_some(),
        "the workflow still waits on its token"
    );

    // The first queue no longer holds it; the second-approval queue does, naming the approver.
    let (_, pending) = app.get(&app.moderator("mod-2"), "/api/reviews").await;
    assert_eq!(pending["items"].as_array().unwrap().len(), 0, "{pending}");
    let (status, second) = app
        .get(&app.moderator("mod-2"), "/api/reviews?status=second")
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_matches("review-list.json", &second);
    let item = &second["items"][0];
    assert_eq!(item["upload_id"], id.to_string());
    assert_eq!(item["status"], "AWAITING_SECOND");
    assert_eq!(item["first_approver"], "mod-1");
    assert_eq!(item["policy"]["approvals_required"], 2);

    let (status, body) = decide(&app, "mod-2", &id, "approve").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "DECIDED");
    app.pump().await;
    let record = app.uploads.get(&id).await.unwrap();
    assert_eq!(record.status, Status::Published);
    assert_eq!(record.moderator.unwrap().as_str(), "mod-2");
    assert!(exists(&app, &ObjectKey::published(&record.target, &id)).await);

    // The approval event names both moderators.
    let events = app.outbox.events_for(&id).await.unwrap();
    let approved = events
        .iter()
        .find(|e| e.event_type == EventType::ReviewApproved)
        .expect("review.approved");
    assert_eq!(approved.moderator.as_ref().unwrap().as_str(), "mod-2");
    assert_eq!(approved.first_approver.as_ref().unwrap().as_str(), "mod-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_approver_cannot_give_the_second_approval() {
    let app = four_eyes_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    let (status, _) = decide(&app, "mod-1", &id, "approve").await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let answer = decide(&app, "mod-1", &id, "approve").await;
    assert_error(&answer, StatusCode::CONFLICT, "same_moderator");
    app.pump().await;
    assert_eq!(status_of(&app, &id).await, Status::AwaitingSecond);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decline_after_the_first_approval_is_final() {
    let app = four_eyes_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    assert_eq!(
        decide(&app, "mod-1", &id, "approve").await.0,
        StatusCode::ACCEPTED
    );

    let (status, body) = decide(&app, "mod-2", &id, "decline").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.pump().await;
    let record = app.uploads.get(&id).await.unwrap();
    assert_eq!(record.status, Status::Declined);
    assert_eq!(record.moderator.unwrap().as_str(), "mod-2");

    let answer = decide(&app, "mod-3", &id, "approve").await;
    assert_error(&answer, StatusCode::CONFLICT, "already_decided");
    assert_eq!(status_of(&app, &id).await, Status::Declined);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_approver_may_still_decline() {
    let app = four_eyes_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    assert_eq!(
        decide(&app, "mod-1", &id, "approve").await.0,
        StatusCode::ACCEPTED
    );
    let (status, body) = decide(&app, "mod-1", &id, "decline").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.pump().await;
    assert_eq!(status_of(&app, &id).await, Status::Declined);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decline_needs_no_second_opinion() {
    let app = four_eyes_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    let (status, body) = decide(&app, "mod-1", &id, "decline").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "DECIDED");
    app.pump().await;
    assert_eq!(status_of(&app, &id).await, Status::Declined);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_first_approvals_at_once_make_the_two_approvals() {
    let app = four_eyes_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    let (a, b) = tokio::join!(
        decide(&app, "mod-1", &id, "approve"),
        decide(&app, "mod-2", &id, "approve")
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::ACCEPTED],
        "{a:?} {b:?}"
    );
    app.pump().await;
    let record = app.uploads.get(&id).await.unwrap();
    assert_eq!(record.status, Status::Published);
    assert_ne!(record.first_approver, record.moderator);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_may_withdraw_between_the_two_approvals() {
    let app = four_eyes_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    assert_eq!(
        decide(&app, "mod-1", &id, "approve").await.0,
        StatusCode::ACCEPTED
    );
    let path = format!("/api/uploads/{id}/withdraw");
    let (status, body) = app.post(&app.owner("owner-a"), &path, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.pump().await;
    assert_eq!(status_of(&app, &id).await, Status::Withdrawn);
    let answer = decide(&app, "mod-2", &id, "approve").await;
    assert_error(&answer, StatusCode::CONFLICT, "not_in_review");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_decides_their_own_upload() {
    let app = spawn_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    // The same person holds the moderator role too.
    for decision in ["approve", "decline"] {
        let answer = decide(&app, "owner-a", &id, decision).await;
        assert_error(&answer, StatusCode::FORBIDDEN, "conflict_of_interest");
    }
    assert_eq!(status_of(&app, &id).await, Status::InReview);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_the_restaurant_does_not_decide_its_uploads() {
    let app = spawn_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    app.join("mod-staff").await;
    let answer = decide(&app, "mod-staff", &id, "approve").await;
    assert_error(&answer, StatusCode::FORBIDDEN, "conflict_of_interest");
    assert_eq!(status_of(&app, &id).await, Status::InReview);
    // A moderator with no tie to the restaurant decides it.
    let (status, body) = decide(&app, "mod-outside", &id, "approve").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_queue_refuses_owners_and_bad_filters() {
    let app = four_eyes_app().await;
    let answer = app
        .get(&app.owner("owner-a"), "/api/reviews?status=second")
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
    let answer = app.get("", "/api/reviews?status=second").await;
    assert_eq!(answer.0, StatusCode::UNAUTHORIZED, "{answer:?}");
    let answer = app
        .get(&app.moderator("mod-1"), "/api/reviews?status=third")
        .await;
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{answer:?}");
}
