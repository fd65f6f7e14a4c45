//! What the workflow engine's tests share: the real ASL, a database with the two review queues,
//! an engine over them, and helpers to take task messages off the queues.

// Test support: unwrapping is how a failed setup is reported.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use vetted_core::ports::{QueueMessage, WorkQueue};
use vetted_core::{Clock, ExecutionName, TaskToken};
use vetted_embedded::db::Db;
use vetted_embedded::sqlite_queue::{QueueConfig, SqliteWorkQueue};
use vetted_embedded::workflow::{
    EmbeddedWorkflow, ExecutionDescription, ExecutionStatus, substitute,
};

pub mod pipeline;

pub const REVIEW_ASL: &str = include_str!("../../../../statemachine/review.asl.json");
pub const SANITIZE_URL: &str = vetted_embedded::workflow::SANITIZE_QUEUE_URL;
pub const REVIEW_TASKS_URL: &str = vetted_embedded::workflow::REVIEW_TASKS_QUEUE_URL;

/// The review ASL with the embedded queue URLs filled in.
pub fn review_asl() -> String {
    substitute(
        REVIEW_ASL,
        &[
            ("SanitizeQueueUrl", SANITIZE_URL),
            ("ReviewTasksQueueUrl", REVIEW_TASKS_URL),
        ],
    )
    .unwrap()
}

pub fn queue_config() -> QueueConfig {
    QueueConfig {
        visibility_timeout: Duration::from_secs(30),
        max_receives: 5,
    }
}

/// A database with the engine's queues and an engine running `asl`.
pub struct Rig {
    pub db: Db,
    pub sanitize: SqliteWorkQueue,
    pub review_tasks: SqliteWorkQueue,
    pub engine: EmbeddedWorkflow,
}

impl Rig {
    pub async fn open(path: &Path, asl: &str, clock: Arc<dyn Clock>) -> Rig {
        let db = Db::open(path).await.unwrap();
        let sanitize = SqliteWorkQueue::new(db.clone(), "sanitize", queue_config());
        let review_tasks = SqliteWorkQueue::new(db.clone(), "review-tasks", queue_config());
        let engine = EmbeddedWorkflow::open_review(
            db.clone(),
            asl,
            Arc::new(sanitize.clone()),
            Arc::new(review_tasks.clone()),
            clock,
        )
        .await
        .unwrap();
        Rig {
            db,
            sanitize,
            review_tasks,
            engine,
        }
    }

    pub async fn describe(&self, name: &str) -> ExecutionDescription {
        self.engine
            .describe(name)
            .await
            .unwrap()
            .expect("execution exists")
    }

    /// The names of the states the execution entered, in order.
    pub async fn entered(&self, name: &str) -> Vec<String> {
        self.engine
            .history(name)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.is_state_entered())
            .filter_map(|e| e.state)
            .collect()
    }

    /// Waits (real time, bounded) until the execution is no longer running.
    pub async fn finished(&self, name: &str) -> ExecutionDescription {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let described = self.describe(name).await;
            if described.status != ExecutionStatus::Running {
                return described;
            }
            assert!(
                Instant::now() < deadline,
                "{name} still running: {described:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub fn name(text: &str) -> ExecutionName {
    ExecutionName::parse(text).unwrap()
}

/// Receives one message within `wait` and acks it; panics if none comes.
pub async fn take(queue: &dyn WorkQueue, wait: Duration) -> QueueMessage {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if let Some(message) = queue
            .receive(1, left.min(Duration::from_secs(1)))
            .await
            .unwrap()
            .pop()
        {
            queue.ack(&message.receipt).await.unwrap();
            return message;
        }
        assert!(Instant::now() < deadline, "no message within {wait:?}");
    }
}

/// Whether a message arrives within `wait` (acked if it does).
pub async fn take_maybe(queue: &dyn WorkQueue, wait: Duration) -> Option<QueueMessage> {
    let message = queue.receive(1, wait).await.unwrap().pop()?;
    queue.ack(&message.receipt).await.unwrap();
    Some(message)
}

pub fn body(message: &QueueMessage) -> Value {
    serde_json::from_str(&message.body).unwrap()
}

pub fn token(message: &QueueMessage) -> TaskToken {
    TaskToken::parse(body(message)["task_token"].as_str().expect("a task_token")).unwrap()
}
