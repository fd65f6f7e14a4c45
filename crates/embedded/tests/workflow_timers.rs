//! Time in the engine, on a manual clock: task timeouts (fixed and from the input), heartbeat
//! deadlines, and Retry delays with backoff, maximum delay and per-retrier attempt counts.

// Test code, helpers included: a failed unwrap is a failed assertion.
#![allow(clippy::unwrap_used)]

mod wf_support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use vetted_core::ports::{ReviewStart, ReviewStarter, TaskResponder, WorkflowError};
use vetted_core::time::ManualClock;
use vetted_core::{Clock, Timestamp, UploadId};
use vetted_embedded::workflow::ExecutionStatus;
use wf_support::{Rig, SANITIZE_URL, body, name, review_asl, take, take_maybe, token};

const WAIT: &str = "arn:aws:states:::sqs:sendMessage.waitForTaskToken";
const QUIET: Duration = Duration::from_millis(150);

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp::from_unix_millis(
        1_700_000_000_000,
    )))
}

fn work(extra: Value) -> Value {
    let mut state = json!({
        "Type": "Task",
        "Resource": WAIT,
        "Parameters": {
            "QueueUrl": SANITIZE_URL,
            "MessageBody": { "retries.$": "$$.State.RetryCount", "task_token.$": "$$.Task.Token" }
        },
        "End": true
    });
    for (k, v) in extra.as_object().unwrap() {
        state[k] = v.clone();
    }
    state
}

async fn rig(dir: &tempfile::TempDir, text: &str, clock: &Arc<ManualClock>) -> Rig {
    Rig::open(&dir.path().join("vetted.db"), text, clock.clone()).await
}

fn machine(states: Value) -> String {
    json!({ "StartAt": "Work", "States": states }).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_times_out_after_review_timeout_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let rig = rig(&dir, &review_asl(), &clock).await;
    let upload = UploadId::generate();
    let start = ReviewStart {
        upload_id: upload,
        review_timeout_seconds: 60,
        review_stages: vetted_core::ports::ReviewStages::without_escalation(60),
    };
    rig.engine.start(&name("timeout-1"), &start).await.unwrap();
    // The scan, then sanitize: both clean.
    for task in ["scan", "sanitize"] {
        let message = take(&rig.sanitize, Duration::from_secs(5)).await;
        assert_eq!(body(&message)["task"], task);
        rig.engine
            .send_task_success(&token(&message), &json!({ "verdict": "clean" }))
            .await
            .unwrap();
    }
    let waiting = take(&rig.review_tasks, Duration::from_secs(5)).await;
    assert_eq!(body(&waiting)["task"], "await_decision");

    clock.advance(Duration::from_secs(59));
    rig.engine.tick().await.unwrap();
    assert!(
        take_maybe(&rig.review_tasks, QUIET).await.is_none(),
        "not yet"
    );
    clock.advance(Duration::from_secs(1));
    rig.engine.tick().await.unwrap();
    let expire = take(&rig.review_tasks, Duration::from_secs(5)).await;
    assert_eq!(body(&expire)["task"], "expire");

    let late = rig
        .engine
        .send_task_success(&token(&waiting), &json!({ "decision": "approve" }))
        .await;
    assert!(matches!(late, Err(WorkflowError::TaskGone)), "{late:?}");
    rig.engine
        .send_task_success(&token(&expire), &json!({ "status": "EXPIRED" }))
        .await
        .unwrap();
    let done = rig.finished("timeout-1").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    let output = done.output.unwrap();
    assert_eq!(
        output["error"],
        json!({ "Error": "States.Timeout", "Cause": "" })
    );
    assert_eq!(output["expire"], json!({ "status": "EXPIRED" }));
    assert_eq!(
        rig.entered("timeout-1").await,
        [
            "Scan",
            "ScanVerdict",
            "Sanitize",
            "SanitizeVerdict",
            "AwaitDecision",
            "AfterStage0",
            "Expire",
            "Expired"
        ]
    );
    let timed_out = rig.engine.history("timeout-1").await.unwrap();
    assert!(timed_out.iter().any(|e| e.event_type == "TaskTimedOut"
        && e.state.as_deref() == Some("AwaitDecision")
        && e.detail["error"] == "States.Timeout"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_a_task_alive_and_their_absence_times_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let catch =
        json!([{ "ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Lost" }]);
    let states = json!({
        "Work": work(json!({ "TimeoutSeconds": 100, "HeartbeatSeconds": 10, "Catch": catch })),
        "Lost": { "Type": "Succeed" }
    });
    let rig = rig(&dir, &machine(states), &clock).await;
    rig.engine
        .start_execution(&name("beat"), json!({}))
        .await
        .unwrap();
    let message = take(&rig.sanitize, Duration::from_secs(5)).await;
    let token = token(&message);

    clock.advance(Duration::from_secs(8));
    rig.engine.send_task_heartbeat(&token).await.unwrap();
    clock.advance(Duration::from_secs(8));
    rig.engine.tick().await.unwrap();
    assert_eq!(
        rig.describe("beat").await.status,
        ExecutionStatus::Running,
        "the beat moved the deadline"
    );
    clock.advance(Duration::from_secs(2));
    rig.engine.tick().await.unwrap();
    let done = rig.finished("beat").await;
    // A heartbeat timeout is States.HeartbeatTimeout, which a Catch on States.Timeout matches.
    assert_eq!(
        done.output.unwrap()["error"],
        json!({ "Error": "States.HeartbeatTimeout", "Cause": "" })
    );
    let gone = rig.engine.send_task_heartbeat(&token).await;
    assert!(matches!(gone, Err(WorkflowError::TaskGone)), "{gone:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_back_off_in_order_then_the_catch_takes_over() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let retry = json!([
        { "ErrorEquals": ["Vetted.Retryable"], "IntervalSeconds": 2, "BackoffRate": 3.0,
          "MaxAttempts": 2, "MaxDelaySeconds": 5 },
        { "ErrorEquals": ["States.ALL"], "MaxAttempts": 0 }
    ]);
    let catch =
        json!([{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "GaveUp" }]);
    let states = json!({
        "Work": work(json!({ "Retry": retry, "Catch": catch })),
        "GaveUp": { "Type": "Succeed" }
    });
    let rig = rig(&dir, &machine(states), &clock).await;
    rig.engine
        .start_execution(&name("retry"), json!({ "keep": 1 }))
        .await
        .unwrap();

    let mut message = take(&rig.sanitize, Duration::from_secs(5)).await;
    // Delays: 2 s, then 2 × 3 = 6 s capped at MaxDelaySeconds 5.
    for (attempt, delay) in [(0u64, 2u64), (1, 5)] {
        assert_eq!(body(&message)["retries"], attempt);
        let failed_at = clock.now();
        rig.engine
            .send_task_failure(&token(&message), "Vetted.Retryable", "busy")
            .await
            .unwrap();
        let described = rig.describe("retry").await;
        assert_eq!(
            described.retry_at,
            Some(failed_at.saturating_add(Duration::from_secs(delay)))
        );
        assert_eq!(described.current_state.as_deref(), Some("Work"));
        clock.advance(Duration::from_secs(delay) - Duration::from_millis(1));
        rig.engine.tick().await.unwrap();
        assert!(
            take_maybe(&rig.sanitize, QUIET).await.is_none(),
            "retried too early"
        );
        clock.advance(Duration::from_millis(1));
        rig.engine.tick().await.unwrap();
        let next = take(&rig.sanitize, Duration::from_secs(5)).await;
        assert_ne!(
            token(&next),
            token(&message),
            "every attempt has its own token"
        );
        let stale = rig
            .engine
            .send_task_success(&token(&message), &json!({}))
            .await;
        assert!(matches!(stale, Err(WorkflowError::TaskGone)));
        message = next;
    }
    assert_eq!(body(&message)["retries"], 2);
    rig.engine
        .send_task_failure(&token(&message), "Vetted.Retryable", "still busy")
        .await
        .unwrap();
    let done = rig.finished("retry").await;
    assert_eq!(
        done.output.unwrap(),
        json!({ "keep": 1, "error": { "Error": "Vetted.Retryable", "Cause": "still busy" } })
    );
    // Retries do not enter the state again, as on Step Functions.
    assert_eq!(rig.entered("retry").await, ["Work", "GaveUp"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_matching_retrier_decides_and_max_attempts_zero_never_retries() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let retry = json!([
        { "ErrorEquals": ["Vetted.Permanent"], "MaxAttempts": 0 },
        { "ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 5 }
    ]);
    let states = json!({ "Work": work(json!({ "Retry": retry })) });
    let rig = rig(&dir, &machine(states), &clock).await;
    rig.engine
        .start_execution(&name("first"), json!({}))
        .await
        .unwrap();
    let message = take(&rig.sanitize, Duration::from_secs(5)).await;
    rig.engine
        .send_task_failure(&token(&message), "Vetted.Permanent", "no")
        .await
        .unwrap();
    let done = rig.finished("first").await;
    assert_eq!(
        done.status,
        ExecutionStatus::Failed,
        "no Catch: the execution fails"
    );
    assert_eq!(
        (done.error.as_deref(), done.cause.as_deref()),
        (Some("Vetted.Permanent"), Some("no"))
    );
}
