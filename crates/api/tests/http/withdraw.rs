//! `POST /api/uploads/{id}/withdraw` over the real pipeline: the embedded workflow engine runs
//! the review ASL, and its tasks are worked by the core's review workers.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use vetted_core::events::EventType;
use vetted_core::ports::{ObjectStore, Uploads, WorkQueue};
use vetted_core::{ObjectKey, Status, UploadId, UploadRecord};
use vetted_embedded::workflow::ExecutionStatus;

use crate::app::{TestApp, assert_error, spawn_app};
use crate::reviews::{exists, intake, upload_in_review};
use crate::schemas::assert_matches;

async fn withdraw(app: &TestApp, token: &str, id: &UploadId) -> (StatusCode, Value) {
    app.post(token, &format!("/api/uploads/{id}/withdraw"), "")
        .await
}

/// Every file an upload can leave behind.
fn all_keys(record: &UploadRecord) -> [ObjectKey; 4] {
    [
        record.key.clone(),
        ObjectKey::sanitized(&record.id),
        ObjectKey::preview(&record.id),
        ObjectKey::published(&record.target, &record.id),
    ]
}

async fn assert_no_files(app: &TestApp, record: &UploadRecord) {
    for key in all_keys(record) {
        assert!(!exists(app, &key).await, "{key} survived the withdrawal");
    }
}

/// The review's execution ended, successfully, in its `Withdrawn` state.
async fn assert_review_ended_withdrawn(app: &TestApp, record: &UploadRecord) {
    let name = record
        .execution_name
        .as_ref()
        .expect("a review was started");
    let described = app.workflow.describe(name.as_str()).await.unwrap().unwrap();
    let history = app.workflow.history(name.as_str()).await.unwrap();
    assert_eq!(described.status, ExecutionStatus::Succeeded, "{history:#?}");
    assert!(
        history
            .iter()
            .any(|e| e.is_state_entered() && e.state.as_deref() == Some("Withdrawn")),
        "the execution did not end in Withdrawn: {history:?}"
    );
}

/// The pending requests `GET /api/restaurants/r1/slots` lists for `slot`, as `user` sees it.
async fn pending_of(app: &TestApp, user: &str, slot: &str) -> Vec<Value> {
    let (status, body) = app.get(&app.owner(user), "/api/restaurants/r1/slots").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_matches("slot-list.json", &body);
    let item = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["slot"] == slot)
        .unwrap_or_else(|| panic!("no {slot} in {body}"));
    item["pending"].as_array().unwrap().clone()
}

/// A new upload of `owner`'s whose file intake has claimed: RECEIVED, its review started and
/// its sanitize task queued, not yet worked.
async fn received_upload(app: &TestApp, owner: &str) -> UploadId {
    let (id, png) = new_intent(app, owner).await;
    let key = app.uploads.get(&id).await.unwrap().key;
    app.objects
        .put(&key, png.into(), "image/png")
        .await
        .unwrap();
    intake(app).sweep_awaiting(Duration::ZERO).await.unwrap();
    id
}

/// `owner-a` withdraws `id`; once the workflow's tasks are worked the upload is WITHDRAWN,
/// its files are gone and its review ended in `Withdrawn`.
async fn withdraw_and_check_it_ended(app: &TestApp, id: &UploadId) {
    let answer = withdraw(app, &app.owner("owner-a"), id).await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    app.pump().await;
    let record = app.uploads.get(id).await.unwrap();
    assert_eq!(record.status, Status::Withdrawn);
    assert_no_files(app, &record).await;
    assert_review_ended_withdrawn(app, &record).await;
}

async fn new_intent(app: &TestApp, owner: &str) -> (UploadId, Vec<u8>) {
    app.join(owner).await;
    let png = vetted_samples::images::png(200, 100);
    let request = json!({"restaurant": "r1", "slot": "gallery-1", "filename": "a.png", "content_type": "image/png", "size": png.len()});
    let (status, body) = app.create(&app.owner(owner), request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        UploadId::parse(body["upload_id"].as_str().unwrap()).unwrap(),
        png,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_in_review_is_withdrawn_its_review_ends_and_its_files_go() {
    let app = spawn_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    let pending = pending_of(&app, "owner-a", "gallery-1").await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["upload_id"], id.to_string());
    assert_eq!(pending[0]["status"], "IN_REVIEW");
    assert_eq!(pending[0]["requested_by"], "owner-a");

    let answer = withdraw(&app, &app.owner("owner-a"), &id).await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    assert_eq!(answer.1["status"], "WITHDRAWN");
    assert_matches("upload.json", &answer.1);

    app.pump().await;
    let record = app.uploads.get(&id).await.unwrap();
    assert_eq!(record.status, Status::Withdrawn);
    assert_no_files(&app, &record).await;
    assert_review_ended_withdrawn(&app, &record).await;
    assert!(pending_of(&app, "owner-a", "gallery-1").await.is_empty());
    let events = app.outbox.events_for(&id).await.unwrap();
    let withdrawn: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == EventType::UploadWithdrawn)
        .collect();
    assert_eq!(withdrawn.len(), 1, "{events:?}");
    assert_eq!(withdrawn[0].id, format!("{id}.upload.withdrawn"));
    assert_eq!(withdrawn[0].status, Status::Withdrawn);

    // A moderator who opened the review before the withdrawal is told it is over.
    let path = format!("/api/reviews/{id}/decision");
    let late = app
        .post(&app.moderator("mod-1"), &path, r#"{"decision":"approve"}"#)
        .await;
    assert_error(&late, StatusCode::CONFLICT, "not_in_review");

    // Withdrawing again is a retry: the same answer, and the same event id, so the outbox
    // holds it once.
    let again = withdraw(&app, &app.owner("owner-a"), &id).await;
    assert_eq!(again.0, StatusCode::OK, "{}", again.1);
    assert_eq!(
        app.outbox.events_for(&id).await.unwrap().len(),
        events.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_while_sanitize_is_pending_ends_the_review_at_its_next_step() {
    let app = spawn_app().await;
    let id = received_upload(&app, "owner-a").await;
    // RECEIVED, with the sanitize task queued and not yet worked.
    assert_eq!(app.uploads.get(&id).await.unwrap().status, Status::Received);

    withdraw_and_check_it_ended(&app, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_before_the_review_stored_its_token_ends_the_review_at_that_step() {
    let app = spawn_app().await;
    let id = received_upload(&app, "owner-a").await;
    // The scan, then sanitize, run and answer clean; the await_decision task is queued, not
    // yet worked, so the record is still RECEIVED and no token is stored for the withdrawal
    // to answer.
    let sanitize = &app.task_queues[0];
    for task in ["scan", "sanitize"] {
        // The engine sends the next task once the previous answer is in: wait for it, boundedly.
        let mut message = None;
        for _ in 0..50 {
            message = sanitize
                .receive(1, Duration::from_millis(200))
                .await
                .unwrap()
                .pop();
            if message.is_some() {
                break;
            }
        }
        let message = message.unwrap_or_else(|| panic!("no {task} task was sent"));
        assert!(
            message.body.contains(&format!("\"task\":\"{task}\"")),
            "{}",
            message.body
        );
        app.review.handle_message(&message.body).await.unwrap();
        sanitize.ack(&message.receipt).await.unwrap();
    }
    assert!(exists(&app, &ObjectKey::sanitized(&id)).await);
    withdraw_and_check_it_ended(&app, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_arrives_after_its_intent_was_withdrawn_is_deleted() {
    let app = spawn_app().await;
    let (id, png) = new_intent(&app, "owner-a").await;
    let answer = withdraw(&app, &app.owner("owner-a"), &id).await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);

    let record = app.uploads.get(&id).await.unwrap();
    app.objects
        .put(&record.key, png.into(), "image/png")
        .await
        .unwrap();
    let notice = json!({"Records": [{
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Post",
        "eventTime": "2026-01-01T00:00:00.000Z",
        "s3": {"bucket": {"name": crate::app::BUCKET}, "object": {"key": record.key.as_str(), "size": 1}}
    }]});
    intake(&app)
        .handle_message(&notice.to_string())
        .await
        .unwrap();
    let record = app.uploads.get(&id).await.unwrap();
    assert_eq!(record.status, Status::Withdrawn);
    assert!(record.execution_name.is_none(), "a review was started");
    assert_no_files(&app, &record).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decided_upload_cannot_be_withdrawn() {
    let app = spawn_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    let path = format!("/api/reviews/{id}/decision");
    let decided = app
        .post(&app.moderator("mod-1"), &path, r#"{"decision":"approve"}"#)
        .await;
    assert_eq!(decided.0, StatusCode::OK, "{}", decided.1);
    let answer = withdraw(&app, &app.owner("owner-a"), &id).await;
    assert_error(&answer, StatusCode::CONFLICT, "not_withdrawable");
    app.pump().await;
    assert_eq!(
        app.uploads.get(&id).await.unwrap().status,
        Status::Published
    );
    let answer = withdraw(&app, &app.owner("owner-a"), &id).await;
    assert_error(&answer, StatusCode::CONFLICT, "not_withdrawable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_racing_a_decision_leaves_exactly_one_outcome() {
    let app = spawn_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    let path = format!("/api/reviews/{id}/decision");
    let moderator = app.moderator("mod-1");
    let owner = app.owner("owner-a");
    let (decided, withdrawn) = tokio::join!(
        app.post(&moderator, &path, r#"{"decision":"approve"}"#),
        withdraw(&app, &owner, &id),
    );
    app.pump().await;
    let record = app.uploads.get(&id).await.unwrap();
    match (decided.0, withdrawn.0) {
        (StatusCode::OK, StatusCode::CONFLICT) => assert_eq!(record.status, Status::Published),
        (StatusCode::CONFLICT, StatusCode::OK) => {
            assert_eq!(record.status, Status::Withdrawn);
            assert_no_files(&app, &record).await;
        }
        other => panic!("both or neither won: {other:?} {decided:?} {withdrawn:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_withdraw_the_requester_and_the_restaurants_owners_only() {
    let app = spawn_app().await;
    let id = upload_in_review(&app, "owner-a").await;

    // Staff of the same restaurant may see the upload, not withdraw it.
    app.join("staff-b").await;
    let answer = withdraw(&app, &app.owner("staff-b"), &id).await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
    // A member of another restaurant, and a made-up id: the same 404.
    app.restaurant("elsewhere", "owner-z").await;
    let answer = withdraw(&app, &app.owner("owner-z"), &id).await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    let answer = withdraw(&app, &app.owner("owner-a"), &UploadId::generate()).await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    let answer = app
        .post(&app.owner("owner-a"), "/api/uploads/not-an-id/withdraw", "")
        .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    // No token, and a token without the owners' role.
    let response = app
        .http
        .post(app.url(&format!("/api/uploads/{id}/withdraw")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let answer = withdraw(&app, &app.moderator("mod-1"), &id).await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(app.uploads.get(&id).await.unwrap().status, Status::InReview);

    // An owner of the restaurant may withdraw a staff member's request.
    app.restaurant("r1", "boss").await;
    let answer = withdraw(&app, &app.owner("boss"), &id).await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    assert_eq!(
        app.uploads.get(&id).await.unwrap().status,
        Status::Withdrawn
    );
}
