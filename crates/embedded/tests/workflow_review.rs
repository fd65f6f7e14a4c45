//! The real review ASL on embedded adapters with the real core workers: an approved upload is
//! published and goes live in its slot, a declined one is declined, and the events land in the
//! outbox.

// Test code, helpers included: a failed unwrap is a failed assertion.
#![allow(clippy::unwrap_used)]

mod wf_support;

use vetted_core::events::EventType;
use vetted_core::policy::Policy;
use vetted_core::ports::Restaurants;
use vetted_core::record::DeclineReason;
use vetted_core::{Decision, ModeratorId, ReasonCode, Status};
use vetted_embedded::workflow::ExecutionStatus;
use wf_support::pipeline::{Pipeline, target};

fn moderator() -> ModeratorId {
    ModeratorId::parse("mod-1").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_upload_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::start(dir.path()).await;
    let (id, name) = pipeline
        .submit(vetted_samples::images::png(320, 200), 320, 200, 300)
        .await;
    let in_review = pipeline.wait_for(&id, Status::InReview).await;
    assert!(
        in_review.task_token.is_some(),
        "the worker stored the AwaitDecision token"
    );
    pipeline
        .review
        .decide(id, moderator(), Decision::Approve, None)
        .await
        .unwrap();
    pipeline.wait_for(&id, Status::Published).await;
    let published = pipeline.published_bytes(&id).await;
    assert!(
        published.starts_with(b"\x89PNG"),
        "a re-encoded PNG is published"
    );

    let done = pipeline.rig.finished(name.as_str()).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    let output = done.output.unwrap();
    assert_eq!(output["sanitize"]["verdict"], "clean");
    assert_eq!(output["decision"]["decision"], "approve");
    assert_eq!(output["publish"]["status"], "PUBLISHED");
    assert_eq!(
        pipeline.rig.entered(name.as_str()).await,
        [
            "Scan",
            "ScanVerdict",
            "Sanitize",
            "SanitizeVerdict",
            "AwaitDecision",
            "Decided",
            "Publish",
            "Published"
        ]
    );
    let events: Vec<EventType> = pipeline
        .outbox
        .events_for(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        events,
        [
            EventType::ReviewRequested,
            EventType::ReviewApproved,
            EventType::SlotChanged,
            EventType::UploadPublished
        ],
        "the slot changes (and says so) before the record is PUBLISHED"
    );
    let slot = pipeline.restaurants.slot(&target()).await.unwrap();
    assert_eq!(
        (slot.live.map(|live| live.upload), slot.revision),
        (Some(id), 1),
        "the published upload is live in the slot it asked to change"
    );
    pipeline.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_upload_is_declined() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::start(dir.path()).await;
    let (id, name) = pipeline
        .submit(vetted_samples::images::png(128, 128), 128, 128, 300)
        .await;
    pipeline.wait_for(&id, Status::InReview).await;
    pipeline
        .review
        .decide(
            id,
            moderator(),
            Decision::Decline,
            Some(DeclineReason::LowQuality),
        )
        .await
        .unwrap();
    let declined = pipeline.wait_for(&id, Status::Declined).await;
    assert_eq!(declined.decline_reason, Some(DeclineReason::LowQuality));
    let done = pipeline.rig.finished(name.as_str()).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output.unwrap()["decline"]["status"], "DECLINED");
    assert_eq!(
        pipeline.rig.entered(name.as_str()).await,
        [
            "Scan",
            "ScanVerdict",
            "Sanitize",
            "SanitizeVerdict",
            "AwaitDecision",
            "Decided",
            "Decline",
            "Declined"
        ]
    );
    pipeline.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sanitized_copy_over_the_size_limit_fails_the_upload_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    // Within the limit as uploaded; about three times larger as the lossless copy.
    let upload = vetted_samples::photo::png_palette_noise(256, 256);
    let policy = Policy {
        max_bytes: upload.len() as u64 * 2,
        ..Policy::default()
    };
    let pipeline = Pipeline::start_with(dir.path(), policy).await;
    let (id, name) = pipeline.submit(upload, 256, 256, 300).await;
    let failed = pipeline.wait_for(&id, Status::Failed).await;
    assert_eq!(failed.reason, Some(ReasonCode::ReencodedTooLarge));
    let done = pipeline.rig.finished(name.as_str()).await;
    assert_eq!(
        pipeline.rig.entered(name.as_str()).await,
        ["Scan", "ScanVerdict", "Sanitize", "RecordFailure", "Failed"],
        "{done:?}"
    );
    let events: Vec<EventType> = pipeline
        .outbox
        .events_for(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert!(events.contains(&EventType::UploadFailed), "{events:?}");
    pipeline.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecided_upload_expires_when_the_review_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::start(dir.path()).await;
    let (id, name) = pipeline
        .submit(vetted_samples::images::png(128, 128), 128, 128, 1)
        .await;
    let expired = pipeline.wait_for(&id, Status::Expired).await;
    assert_eq!(
        expired.reason,
        Some(vetted_core::ReasonCode::ReviewTimedOut)
    );
    let done = pipeline.rig.finished(name.as_str()).await;
    assert_eq!(done.output.unwrap()["error"]["Error"], "States.Timeout");
    pipeline.stop().await;
}
