//! Review escalation on the embedded engine with the real ASL and the real core workers: the
//! await stages, the `escalate` task (flag and `review.escalated`), and both sides of a
//! decision racing a stage change. The review-tasks messages are handed to the workers by
//! the test, so each interleaving is reached on purpose, not by timing.

// Test code, helpers included: a failed unwrap is a failed assertion.
#![allow(clippy::unwrap_used)]

mod wf_support;

use std::time::Duration;

use serde_json::Value;
use vetted_core::events::EventType;
use vetted_core::ports::{ReviewStages, Uploads};
use vetted_core::review::{DecisionOutcome, TaskOutcome};
use vetted_core::{Decision, ModeratorId, Status, UploadId};
use vetted_embedded::workflow::ExecutionStatus;
use wf_support::pipeline::Pipeline;
use wf_support::{body, take};

/// Long enough for any stage the test does not let time out.
const WAIT: Duration = Duration::from_secs(30);

/// A first stage of 1 s, then one escalation level with a long second stage.
fn one_escalation() -> ReviewStages {
    ReviewStages {
        escalation_levels: 1,
        initial_seconds: 1,
        level_1_seconds: Some(300),
        level_2_seconds: None,
    }
}

fn moderator() -> ModeratorId {
    ModeratorId::parse("mod-1").unwrap()
}

/// Takes the next review-tasks message, checks its task and hands it to the workers.
async fn handle_next(pipeline: &Pipeline, task: &str) -> (Value, TaskOutcome) {
    let message = take(&pipeline.rig.review_tasks, WAIT).await;
    let body_json = body(&message);
    assert_eq!(body_json["task"], task, "{body_json}");
    let outcome = pipeline.review.handle_message(&message.body).await.unwrap();
    (body_json, outcome)
}

async fn events(pipeline: &Pipeline, id: &UploadId) -> Vec<(EventType, Option<u8>)> {
    pipeline
        .outbox
        .events_for(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event_type, e.escalation_level))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalated_review_is_flagged_announced_and_decided_in_its_next_stage() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::start_driving_review_tasks(dir.path()).await;
    let png = vetted_samples::images::png(128, 128);
    let (id, name) = pipeline
        .submit_staged(png, 128, 128, 301, one_escalation())
        .await;
    let (first, outcome) = handle_next(&pipeline, "await_decision").await;
    assert_eq!(
        (first["stage"].as_u64(), outcome),
        (Some(0), TaskOutcome::AwaitingModerator)
    );
    assert_eq!(first["escalation_levels"], 1);

    // The first stage times out: the escalate task flags the record and announces it.
    let (escalate, outcome) = handle_next(&pipeline, "escalate").await;
    assert_eq!(escalate["level"], 1);
    assert!(matches!(outcome, TaskOutcome::Answered(_)), "{outcome:?}");
    let escalated = pipeline.uploads.get(&id).await.unwrap();
    assert_eq!(
        (escalated.status, escalated.escalation_level),
        (Status::InReview, Some(1))
    );
    // The next stage stores its own token.
    let (second, outcome) = handle_next(&pipeline, "await_decision").await;
    assert_eq!(
        (second["stage"].as_u64(), outcome),
        (Some(1), TaskOutcome::AwaitingModerator)
    );
    let staged = pipeline.uploads.get(&id).await.unwrap();
    assert_eq!(
        staged.task_token.as_ref().map(|t| t.expose().to_owned()),
        second["task_token"].as_str().map(str::to_owned),
        "the second stage's token replaced the first"
    );
    assert_eq!(
        staged.status_since, escalated.status_since,
        "the queue order is kept"
    );

    // A decision now answers the second stage directly.
    let outcome = pipeline
        .review
        .decide(id, moderator(), Decision::Decline, None)
        .await
        .unwrap();
    assert!(
        matches!(outcome, DecisionOutcome::Delivered(_)),
        "{outcome:?}"
    );
    handle_next(&pipeline, "decline").await;
    pipeline.wait_for(&id, Status::Declined).await;
    let done = pipeline.rig.finished(name.as_str()).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(
        events(&pipeline, &id).await,
        [
            (EventType::ReviewRequested, None),
            (EventType::ReviewEscalated, Some(1)),
            (EventType::ReviewDeclined, None),
        ]
    );
    pipeline.stop().await;
}

/// The decision answers the first stage's token after that stage timed out but before the
/// next stage stored its own: the engine says `TaskGone`, which must not expire the review.
/// The decision is pending; the next stage's worker finds the record `DECIDED` and answers
/// its own token with the decision at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_racing_a_stage_change_is_answered_by_the_next_stage() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::start_driving_review_tasks(dir.path()).await;
    let png = vetted_samples::images::png(128, 128);
    let (id, name) = pipeline
        .submit_staged(png, 128, 128, 301, one_escalation())
        .await;
    handle_next(&pipeline, "await_decision").await;
    // The escalate message is the proof that the first stage's token is gone.
    let escalate = take(&pipeline.rig.review_tasks, WAIT).await;
    assert_eq!(body(&escalate)["task"], "escalate");

    let outcome = pipeline
        .review
        .decide(id, moderator(), Decision::Approve, None)
        .await
        .unwrap();
    let DecisionOutcome::Pending(pending) = outcome else {
        panic!("the old token is gone; the decision must wait for the next stage: {outcome:?}");
    };
    assert_eq!(
        pending.status,
        Status::Decided,
        "not expired: the review is still open"
    );

    // The escalate task, late, finds the review decided: no flag, no event; the workflow
    // goes on to the next stage.
    let outcome = pipeline
        .review
        .handle_message(&escalate.body)
        .await
        .unwrap();
    assert!(matches!(outcome, TaskOutcome::Answered(_)), "{outcome:?}");
    let (second, outcome) = handle_next(&pipeline, "await_decision").await;
    assert_eq!(second["stage"], 1);
    assert!(
        matches!(outcome, TaskOutcome::Answered(_)),
        "the next stage answers with the recorded decision: {outcome:?}"
    );
    handle_next(&pipeline, "publish").await;
    pipeline.wait_for(&id, Status::Published).await;
    let done = pipeline.rig.finished(name.as_str()).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output.unwrap()["decision"]["decision"], "approve");
    assert_eq!(
        pipeline.rig.entered(name.as_str()).await,
        [
            "Scan",
            "ScanVerdict",
            "Sanitize",
            "SanitizeVerdict",
            "AwaitDecision",
            "AfterStage0",
            "Escalate1",
            "AwaitDecisionLevel1",
            "Decided",
            "Publish",
            "Published"
        ]
    );
    let escalations = events(&pipeline, &id)
        .await
        .into_iter()
        .filter(|(t, _)| *t == EventType::ReviewEscalated)
        .count();
    assert_eq!(escalations, 0, "a decided review is not escalated");
    pipeline.stop().await;
}

/// A stale repeat of the first stage's message, after the second stage stored its token,
/// must not put the old token back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_repeat_of_an_earlier_stage_keeps_the_later_token() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::start_driving_review_tasks(dir.path()).await;
    let png = vetted_samples::images::png(128, 128);
    let (id, _) = pipeline
        .submit_staged(png, 128, 128, 301, one_escalation())
        .await;
    let first = take(&pipeline.rig.review_tasks, WAIT).await;
    pipeline.review.handle_message(&first.body).await.unwrap();
    handle_next(&pipeline, "escalate").await;
    handle_next(&pipeline, "await_decision").await;
    let staged = pipeline.uploads.get(&id).await.unwrap();
    let outcome = pipeline.review.handle_message(&first.body).await.unwrap();
    assert!(
        matches!(outcome, TaskOutcome::NothingToAnswer(_)),
        "{outcome:?}"
    );
    assert_eq!(pipeline.uploads.get(&id).await.unwrap(), staged);
    pipeline.stop().await;
}

/// The last stage's token gone is a real timeout: as without escalation, the decision finds
/// the review timed out and the upload expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_after_the_last_stage_timed_out_expires_the_upload() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::start_driving_review_tasks(dir.path()).await;
    let png = vetted_samples::images::png(128, 128);
    let stages = ReviewStages {
        escalation_levels: 1,
        initial_seconds: 1,
        level_1_seconds: Some(1),
        level_2_seconds: None,
    };
    let (id, _) = pipeline.submit_staged(png, 128, 128, 2, stages).await;
    handle_next(&pipeline, "await_decision").await;
    handle_next(&pipeline, "escalate").await;
    handle_next(&pipeline, "await_decision").await;
    // The expire message is the proof that the last stage's token is gone.
    let expire = take(&pipeline.rig.review_tasks, WAIT).await;
    assert_eq!(body(&expire)["task"], "expire");
    let refused = pipeline
        .review
        .decide(id, moderator(), Decision::Approve, None)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, vetted_core::review::DecisionError::TimedOut { .. }),
        "{refused:?}"
    );
    assert_eq!(
        pipeline.uploads.get(&id).await.unwrap().status,
        Status::Expired
    );
    pipeline.review.handle_message(&expire.body).await.unwrap();
    pipeline.stop().await;
}
