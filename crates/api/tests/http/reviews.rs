//! The moderators' routes over a real pipeline: intents made through the API, real PNGs in
//! the store, intake's claim, the embedded workflow engine and the core's task workers.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use vetted_core::intake::Intake;
use vetted_core::ports::{ObjectStore, StoreError, Uploads};
use vetted_core::record::DeclineReason;
use vetted_core::{ObjectKey, ReasonCode, Status, UploadId};

use crate::app::{BUCKET, TestApp, assert_error, spawn_app};
use crate::schemas::assert_matches;

const REVIEW_TIMEOUT: Duration = Duration::from_secs(600);

/// Takes a new upload of `owner`'s to IN_REVIEW the way the pipeline does.
pub(crate) async fn upload_in_review(app: &TestApp, owner: &str) -> UploadId {
    app.join(owner).await;
    let png = vetted_samples::images::png(200, 100);
    let request = json!({"restaurant": "r1", "slot": "gallery-1", "filename": "logo.png", "content_type": "image/png", "size": png.len()});
    let (status, body) = app.create(&app.owner(owner), request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = UploadId::parse(body["upload_id"].as_str().unwrap()).unwrap();
    let key = app.uploads.get(&id).await.unwrap().key;
    app.objects
        .put(&key, png.into(), "image/png")
        .await
        .unwrap();
    // Intake handles a stored object whose notification never came exactly as if it had.
    let report = intake(app).sweep_awaiting(Duration::ZERO).await.unwrap();
    assert!(report.recovered >= 1, "{report:?}");
    app.pump().await;
    let record = app.uploads.get(&id).await.unwrap();
    assert_eq!(record.status, Status::InReview, "{record:?}");
    id
}

pub(crate) fn intake(app: &TestApp) -> Intake {
    Intake {
        ports: app.ports.clone(),
        reviews: app.workflow.clone(),
        policies: vetted_core::policy::SlotPolicies::uniform(Default::default()),
        bucket: BUCKET.to_owned(),
        review_timeout: REVIEW_TIMEOUT,
        escalation: vetted_core::review::EscalationShares::none(),
        deferral: vetted_core::intake::Deferral::none(),
    }
}

async fn decide(app: &TestApp, moderator: &str, id: &UploadId, body: Value) -> (StatusCode, Value) {
    let path = format!("/api/reviews/{id}/decision");
    app.post(&app.moderator(moderator), &path, &body.to_string())
        .await
}

pub(crate) async fn exists(app: &TestApp, key: &ObjectKey) -> bool {
    match app.objects.head(key).await {
        Ok(_) => true,
        Err(StoreError::NotFound(_)) => false,
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_lists_uploads_in_review_oldest_first_with_a_preview_and_no_token() {
    let app = spawn_app().await;
    let first = upload_in_review(&app, "owner-a").await;
    app.clock.advance(Duration::from_secs(1));
    let second = upload_in_review(&app, "owner-b").await;

    let (status, body) = app
        .get(&app.moderator("mod-1"), "/api/reviews?status=pending")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_matches("review-list.json", &body);
    let ids: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["upload_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.to_string(), second.to_string()]);
    let item = &body["items"][0];
    assert_eq!(item["owner"], "owner-a");
    assert_eq!(
        (item["width"].as_u64(), item["height"].as_u64()),
        (Some(200), Some(100))
    );
    let preview = item["preview_url"].as_str().unwrap();
    assert!(
        preview.contains(&format!("/previews/{first}.webp")),
        "{preview}"
    );
    assert!(preview.contains("X-Amz-Signature="), "{preview}");

    let text = body.to_string();
    for id in [first, second] {
        let token = app.uploads.get(&id).await.unwrap().task_token.unwrap();
        assert!(!text.contains(token.expose()), "a task token leaked");
    }
    assert!(!text.contains("task_token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_can_neither_see_the_queue_nor_decide() {
    let app = spawn_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    let owner = app.owner("owner-a");
    let answer = app.get(&owner, "/api/reviews").await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
    let path = format!("/api/reviews/{id}/decision");
    let answer = app.post(&owner, &path, r#"{"decision":"approve"}"#).await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(app.uploads.get(&id).await.unwrap().status, Status::InReview);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_publishes_and_a_second_decision_is_a_conflict() {
    let app = spawn_app().await;
    let id = upload_in_review(&app, "owner-a").await;

    let (status, body) = decide(&app, "mod-1", &id, json!({"decision": "approve"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_matches("decision-response.json", &body);
    assert_eq!(body["status"], "DECIDED");
    assert_eq!(body["delivered"], true);

    app.pump().await;
    let record = app.uploads.get(&id).await.unwrap();
    assert_eq!(record.status, Status::Published);
    assert_eq!(record.moderator.unwrap().as_str(), "mod-1");
    assert!(exists(&app, &ObjectKey::published(&record.target, &id)).await);
    assert!(
        !exists(&app, &record.key).await,
        "the raw upload is kept after publishing"
    );

    let answer = decide(&app, "mod-2", &id, json!({"decision": "decline"})).await;
    assert_error(&answer, StatusCode::CONFLICT, "already_decided");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_upload_becomes_its_slots_live_image_and_says_where_it_is() {
    let app = spawn_app().await;
    let first = upload_in_review(&app, "owner-a").await;
    decide(&app, "mod-1", &first, json!({"decision": "approve"})).await;
    app.pump().await;
    // The next change to the same slot: the moderator sees the live image beside it.
    let second = upload_in_review(&app, "owner-a").await;
    let (status, queue) = app.get(&app.moderator("mod-1"), "/api/reviews").await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_matches("review-list.json", &queue);
    let item = &queue["items"][0];
    assert_eq!(item["upload_id"], second.to_string());
    assert_eq!(item["restaurant"], "r1");
    assert_eq!(item["slot"], "gallery-1");
    assert_eq!(item["live"]["upload_id"], first.to_string());
    assert!(item["live"]["url"].as_str().unwrap().starts_with("http"));
    assert_eq!(item["policy"]["min_side"], 64);
    // Filtering by another kind hides it.
    let (_, logos) = app
        .get(&app.moderator("mod-1"), "/api/reviews?kind=logo")
        .await;
    assert_eq!(logos["items"], json!([]), "{logos}");

    decide(&app, "mod-1", &second, json!({"decision": "approve"})).await;
    app.pump().await;
    let (status, view) = app
        .get(&app.owner("owner-a"), &format!("/api/uploads/{second}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_matches("upload.json", &view);
    assert_eq!(view["url"], format!("http://media.test/media/{second}"));
    let (_, slots) = app
        .get(&app.owner("owner-a"), "/api/restaurants/r1/slots")
        .await;
    let gallery = &slots["items"][2];
    assert_eq!(gallery["slot"], "gallery-1");
    assert_eq!(gallery["live"]["upload_id"], second.to_string());
    assert_eq!(gallery["previous_upload_id"], first.to_string());
    assert_eq!(gallery["revision"], 2);

    let events = app.outbox.events_for(&second).await.unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert!(
        types.ends_with(&["slot.changed", "upload.published"]),
        "{types:?}"
    );
    let changed = &events[events.len() - 2];
    assert_eq!(changed.previous_upload_id, Some(first));
    assert_eq!(
        changed.previous_url.as_deref(),
        Some(format!("http://media.test/media/{first}").as_str())
    );
    let published = events.last().unwrap();
    assert_eq!(published.url, view["url"].as_str().map(str::to_owned));
    assert_eq!(published.restaurant.as_str(), "r1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decline_records_its_reason_and_removes_every_copy() {
    let app = spawn_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    let body = json!({"decision": "decline", "reason": "low_quality"});
    let (status, answer) = decide(&app, "mod-1", &id, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["decline_reason"], "low_quality");

    app.pump().await;
    let record = app.uploads.get(&id).await.unwrap();
    assert_eq!(record.status, Status::Declined);
    assert_eq!(record.decline_reason, Some(DeclineReason::LowQuality));
    for key in [
        record.key.clone(),
        ObjectKey::sanitized(&id),
        ObjectKey::preview(&id),
        ObjectKey::published(&record.target, &id),
    ] {
        assert!(!exists(&app, &key).await, "{key} survived a decline");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_moderators_deciding_at_once_exactly_one_wins() {
    let app = spawn_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    let (a, b) = tokio::join!(
        decide(&app, "mod-1", &id, json!({"decision": "approve"})),
        decide(&app, "mod-2", &id, json!({"decision": "decline"})),
    );
    let statuses = [a.0, b.0];
    assert!(
        statuses.contains(&StatusCode::OK) && statuses.contains(&StatusCode::CONFLICT),
        "{a:?} {b:?}"
    );
    let (winner, loser) = if a.0 == StatusCode::OK {
        (a, b)
    } else {
        (b, a)
    };
    assert_error(&loser, StatusCode::CONFLICT, "already_decided");
    app.pump().await;
    let record = app.uploads.get(&id).await.unwrap();
    let expected = if winner.1["decision"] == "approve" {
        Status::Published
    } else {
        Status::Declined
    };
    assert_eq!(record.status, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_after_the_review_timed_out_is_gone_and_the_record_says_so() {
    let app = spawn_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    app.clock.advance(REVIEW_TIMEOUT + Duration::from_secs(1));
    // The engine fires the timeout; its Expire task stays queued, unworked, so the decision
    // finds the record still IN_REVIEW and its token dead.
    app.workflow.tick().await.unwrap();

    let answer = decide(&app, "mod-1", &id, json!({"decision": "approve"})).await;
    assert_error(&answer, StatusCode::GONE, "review_timed_out");
    let record = app.uploads.get(&id).await.unwrap();
    assert_eq!(record.status, Status::Expired);
    assert_eq!(record.reason, Some(ReasonCode::ReviewTimedOut));

    app.pump().await;
    assert_eq!(app.uploads.get(&id).await.unwrap().status, Status::Expired);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_decisions_are_400_and_unknown_uploads_404() {
    let app = spawn_app().await;
    let id = upload_in_review(&app, "owner-a").await;
    let moderator = app.moderator("mod-1");
    let path = format!("/api/reviews/{id}/decision");
    let cases = [
        (r#"{"decision":"approve","extra":1}"#, "unknown_field"),
        (r#"{"decision":"maybe"}"#, "invalid_request"),
        (
            r#"{"decision":"decline","reason":"ugly"}"#,
            "invalid_request",
        ),
        (r#"{"decision":"approve","reason":"other"}"#, "invalid_body"),
        ("approve", "invalid_json"),
    ];
    for (body, reason) in cases {
        let answer = app.post(&moderator, &path, body).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, reason);
    }
    for path in [
        "/api/reviews/not-an-id/decision".to_owned(),
        format!("/api/reviews/{}/decision", UploadId::generate()),
    ] {
        let answer = app
            .post(&moderator, &path, r#"{"decision":"approve"}"#)
            .await;
        assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    }
    let answer = app.get(&moderator, "/api/reviews?status=everything").await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_query");
    assert_eq!(app.uploads.get(&id).await.unwrap().status, Status::InReview);
}
