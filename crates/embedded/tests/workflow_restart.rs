//! Durability: an engine dropped with its database and opened again carries on: a waiting task
//! can still be answered with its old token, a pending Retry still fires, and a message that
//! was never handed to its queue is sent then.

// Test code, helpers included: a failed unwrap is a failed assertion.
#![allow(clippy::unwrap_used)]

mod wf_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use vetted_core::ports::{
    BackendError, QueueError, QueueMessage, QueueStats, Receipt, ReviewStart, ReviewStarter,
    TaskResponder, WorkQueue,
};
use vetted_core::time::ManualClock;
use vetted_core::{SystemClock, Timestamp, UploadId};
use vetted_embedded::db::Db;
use vetted_embedded::sqlite_queue::SqliteWorkQueue;
use vetted_embedded::workflow::{EmbeddedWorkflow, ExecutionStatus};
use wf_support::{
    REVIEW_ASL, REVIEW_TASKS_URL, Rig, SANITIZE_URL, body, name, queue_config, review_asl, take,
    token,
};

fn start(upload: UploadId) -> ReviewStart {
    ReviewStart {
        upload_id: upload,
        review_timeout_seconds: 300,
        review_stages: vetted_core::ports::ReviewStages::without_escalation(300),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_task_is_answered_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vetted.db");
    let upload = UploadId::generate();
    let sanitize_token = {
        let rig = Rig::open(&path, &review_asl(), Arc::new(SystemClock)).await;
        rig.engine
            .start(&name("restart-1"), &start(upload))
            .await
            .unwrap();
        let scan = take(&rig.sanitize, Duration::from_secs(5)).await;
        assert_eq!(body(&scan)["task"], "scan");
        rig.engine
            .send_task_success(&token(&scan), &json!({ "verdict": "clean" }))
            .await
            .unwrap();
        token(&take(&rig.sanitize, Duration::from_secs(5)).await)
    };
    let rig = Rig::open(&path, &review_asl(), Arc::new(SystemClock)).await;
    assert_eq!(
        rig.describe("restart-1").await.current_state.as_deref(),
        Some("Sanitize")
    );
    rig.engine
        .send_task_success(&sanitize_token, &json!({ "verdict": "clean" }))
        .await
        .unwrap();
    let waiting = take(&rig.review_tasks, Duration::from_secs(5)).await;
    assert_eq!(body(&waiting)["task"], "await_decision");
    assert_eq!(body(&waiting)["upload_id"], upload.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_retry_fires_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vetted.db");
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(
        1_700_000_000_000,
    )));
    {
        let rig = Rig::open(&path, &review_asl(), clock.clone()).await;
        rig.engine
            .start(&name("restart-2"), &start(UploadId::generate()))
            .await
            .unwrap();
        take(&rig.sanitize, Duration::from_secs(5)).await;
        // The scan, left unanswered past its TimeoutSeconds: States.Timeout, which the ASL
        // retries (it retries no error a worker sends).
        let timeout: serde_json::Value = serde_json::from_str(REVIEW_ASL).unwrap();
        let timeout = timeout["States"]["Scan"]["TimeoutSeconds"]
            .as_u64()
            .unwrap();
        clock.advance(Duration::from_secs(timeout));
        rig.engine.tick().await.unwrap();
        assert!(rig.describe("restart-2").await.retry_at.is_some());
    }
    let rig = Rig::open(&path, &review_asl(), clock.clone()).await;
    clock.advance(Duration::from_secs(2));
    rig.engine.tick().await.unwrap();
    let second = take(&rig.sanitize, Duration::from_secs(5)).await;
    rig.engine
        .send_task_success(
            &token(&second),
            &json!({ "verdict": "rejected", "reason": "truncated" }),
        )
        .await
        .unwrap();
    let done = rig.finished("restart-2").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(
        rig.entered("restart-2").await,
        ["Scan", "ScanVerdict", "Rejected"]
    );
}

/// The real queue, with sends that fail while `down` is set: a crash between the commit and
/// the send looks like this to the engine.
struct FlakyQueue {
    queue: SqliteWorkQueue,
    down: AtomicBool,
}

#[async_trait]
impl WorkQueue for FlakyQueue {
    async fn send(&self, body: &str) -> Result<(), QueueError> {
        if self.down.load(Ordering::SeqCst) {
            let cause = std::io::Error::other("queue unavailable");
            return Err(QueueError::Backend(BackendError::retryable(
                "queue.send",
                cause,
            )));
        }
        self.queue.send(body).await
    }
    async fn send_delayed(&self, body: &str, delay: Duration) -> Result<(), QueueError> {
        self.queue.send_delayed(body, delay).await
    }
    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<QueueMessage>, QueueError> {
        self.queue.receive(max, wait).await
    }
    async fn ack(&self, receipt: &Receipt) -> Result<(), QueueError> {
        self.queue.ack(receipt).await
    }
    async fn retry_after(&self, receipt: &Receipt, delay: Duration) -> Result<(), QueueError> {
        self.queue.retry_after(receipt, delay).await
    }
    async fn redrive(&self, max: u32) -> Result<u32, QueueError> {
        self.queue.redrive(max).await
    }
    async fn stats(&self) -> Result<QueueStats, QueueError> {
        self.queue.stats().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_was_never_sent_is_sent_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vetted.db");
    {
        let db = Db::open(&path).await.unwrap();
        let flaky = Arc::new(FlakyQueue {
            queue: SqliteWorkQueue::new(db.clone(), "sanitize", queue_config()),
            down: AtomicBool::new(true),
        });
        let review = SqliteWorkQueue::new(db.clone(), "review-tasks", queue_config());
        let queues: HashMap<String, Arc<dyn WorkQueue>> = HashMap::from([
            (SANITIZE_URL.to_owned(), flaky.clone() as Arc<dyn WorkQueue>),
            (
                REVIEW_TASKS_URL.to_owned(),
                Arc::new(review) as Arc<dyn WorkQueue>,
            ),
        ]);
        let engine = EmbeddedWorkflow::open(db, &review_asl(), queues, Arc::new(SystemClock))
            .await
            .unwrap();
        engine
            .start(&name("restart-3"), &start(UploadId::generate()))
            .await
            .unwrap();
        engine.tick().await.unwrap();
        assert_eq!(
            flaky.queue.stats().await.unwrap().visible,
            0,
            "nothing could be sent"
        );
    }
    let rig = Rig::open(&path, &review_asl(), Arc::new(SystemClock)).await;
    rig.engine.tick().await.unwrap();
    let message = take(&rig.sanitize, Duration::from_secs(5)).await;
    assert_eq!(body(&message)["task"], "scan");
    let history = rig.engine.history("restart-3").await.unwrap();
    assert!(history.iter().any(|e| e.event_type == "TaskSubmitted"));
    rig.engine.tick().await.unwrap();
    assert_eq!(
        rig.sanitize.stats().await.unwrap().visible,
        0,
        "sent once, not again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_keep_the_definition_they_started_with() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vetted.db");
    let old = {
        let rig = Rig::open(&path, &review_asl(), Arc::new(SystemClock)).await;
        rig.engine
            .start(&name("old-def"), &start(UploadId::generate()))
            .await
            .unwrap();
        token(&take(&rig.sanitize, Duration::from_secs(5)).await)
    };
    // The new definition no longer knows the verdict "clean".
    let mut changed: serde_json::Value = serde_json::from_str(&review_asl()).unwrap();
    let clean = changed["States"]["ScanVerdict"]["Choices"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|choice| choice["StringEquals"] == "clean")
        .expect("a choice on the verdict \"clean\"");
    clean["StringEquals"] = json!("spotless");
    let rig = Rig::open(&path, &changed.to_string(), Arc::new(SystemClock)).await;
    rig.engine
        .send_task_success(&old, &json!({ "verdict": "clean" }))
        .await
        .unwrap();
    let waiting = take(&rig.sanitize, Duration::from_secs(5)).await;
    assert_eq!(
        body(&waiting)["task"],
        "sanitize",
        "the old definition still applies"
    );
    rig.engine
        .start(&name("new-def"), &start(UploadId::generate()))
        .await
        .unwrap();
    let fresh = take(&rig.sanitize, Duration::from_secs(5)).await;
    rig.engine
        .send_task_success(&token(&fresh), &json!({ "verdict": "clean" }))
        .await
        .unwrap();
    let failure = take(&rig.review_tasks, Duration::from_secs(5)).await;
    assert_eq!(body(&failure)["task"], "record_failure");
    assert_eq!(
        rig.entered("new-def").await,
        ["Scan", "ScanVerdict", "UnexpectedAnswer", "RecordFailure"]
    );
}
