//! The review: the workflow's task workers and the moderator's decision.
//!
//! `statemachine/review.asl.json` sends one SQS message per task, carrying a task token. The
//! worker behind the queue calls [`Review::handle_message`], which does the task's work and
//! answers the workflow — except `await_decision`, whose answer comes from a moderator through
//! [`Review::decide`], or from the owner withdrawing the upload through [`Review::withdraw`].
//!
//! Every task is safe to run twice (SQS delivers at least once, and a worker can die between
//! any two steps): status moves are conditional, copies and deletes are idempotent, and a task
//! that finds its work already done just answers again. An answer to a task that is no longer
//! waiting (`TaskGone`) means someone already answered it, or it timed out; either way there
//! is nothing left to do.
//!
//! Errors: a retryable failure (throttling, a timeout) fails the message, so the queue
//! delivers it again with the same token. A permanent one is reported to the workflow as
//! `Vetted.Permanent`, whose `Catch` records the upload as `FAILED`. [`WORKER_ERRORS`] says
//! why no retryable error name is ever sent.

mod decision;
mod escalation;
mod reuse;
pub mod sanitize;
pub mod scan;
mod tasks;
mod withdraw;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::ids::{TaskToken, UploadId};
use crate::lifecycle::Lifecycle;
use crate::policy::SlotPolicies;
use crate::ports::{ObjectStore, TaskResponder};
use crate::service::{Ports, QueueService, StepError};

pub use decision::{DecisionError, DecisionOutcome};
pub use escalation::{EscalationShares, MAX_ESCALATION_LEVELS};
pub use reuse::SYSTEM_MODERATOR;
pub use scan::{SCAN_NO_ANSWER, ScanSettings, Scanning};
pub use withdraw::{WITHDRAW_ANSWER, WithdrawError, can_withdraw};

/// The error a worker reports (`SendTaskFailure`) for a task that cannot be done; the
/// workflow's `Catch` sends it to `RecordFailure`, which makes the record `FAILED`.
pub const ERROR_PERMANENT: &str = "Vetted.Permanent";

/// Every error name a worker sends to the workflow; `tests/infra/workflow.rs` fails if the
/// ASL's `Retry`/`Catch` name another non-`States.*` error, or if a task does not catch one
/// of these.
///
/// There is deliberately no retryable name. A transient failure fails the SQS message: the
/// queue delivers it again, with the same task token, after its visibility timeout, as often
/// as its redrive policy allows, and then keeps it in the dead-letter queue. A `Retry` on a
/// worker-sent error would instead make Step Functions send the task again as a new message
/// with a new token: a second retry loop on top of the queue's, counting attempts in seconds
/// (2, 4, 8 s) instead of riding out an outage, and turning the first message, if it is still
/// in flight, into a stale copy that redoes the work only to find its token closed. The ASL
/// retries only `States.Timeout`: no answer came in time (the message was lost, or
/// dead-lettered), which is exactly when a fresh message is what helps.
pub const WORKER_ERRORS: &[&str] = &[ERROR_PERMANENT];

/// Which step of the workflow a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// The malware scan, before sanitize; see [`scan`].
    Scan,
    Sanitize,
    AwaitDecision,
    Publish,
    Decline,
    Expire,
    RecordFailure,
    /// Between two await stages: flag the review as escalated and tell moderators.
    Escalate,
}

/// A task message as the workflow sends it (`Parameters.MessageBody` in the ASL).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TaskMessage {
    pub task: TaskKind,
    pub upload_id: UploadId,
    pub execution: String,
    pub task_token: TaskToken,
    /// For `record_failure`: the error the workflow caught (`{Error, Cause}`).
    #[serde(default)]
    pub error: Option<serde_json::Value>,
    /// For `await_decision`: which await stage sent it (0 before any escalation, then the
    /// escalation level it follows).
    #[serde(default)]
    pub stage: u8,
    /// For `await_decision`: how many escalation levels the review has.
    #[serde(default)]
    pub escalation_levels: u8,
    /// For `escalate`: the level reached.
    #[serde(default)]
    pub level: u8,
}

/// What a task did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    /// The task's work is done and the workflow has its answer.
    Answered(TaskKind),
    /// `await_decision`: the token is stored; a moderator will answer.
    AwaitingModerator,
    /// The workflow no longer waits on this task (answered before, or timed out).
    NothingToAnswer(TaskKind),
    /// The task could not be done; the workflow was told so and will record a failure.
    ReportedFailure { task: TaskKind, cause: String },
}

/// The review's ports and settings, shared by every task and by decisions.
pub struct Review {
    pub ports: Ports,
    /// Answers the workflow's tasks; decisions answer `AwaitDecision` through it.
    pub tasks: Arc<dyn TaskResponder>,
    /// The rules of each slot kind; sanitize holds an upload to its slot's.
    pub policies: SlotPolicies,
    /// The allocation ceiling for the sanitizer's decoder.
    pub max_decode_alloc: u64,
    /// The memory every sanitize of this process shares; one waits while it is spent.
    pub memory: sanitize::budget::MemoryBudget,
    /// The malware scanner and whether an unscanned upload may proceed.
    pub scanning: scan::Scanning,
}

#[async_trait]
impl QueueService for Review {
    fn name(&self) -> &'static str {
        "review"
    }

    async fn handle(&self, body: &str) -> Result<(), StepError> {
        let outcome = self.handle_message(body).await?;
        info!(?outcome, "task handled");
        Ok(())
    }
}

impl Review {
    /// Parses a task message; a body the workflow would never send is `MalformedTask`.
    pub fn parse_message(body: &str) -> Result<TaskMessage, StepError> {
        serde_json::from_str(body).map_err(|e| StepError::MalformedTask(e.to_string()))
    }

    fn lifecycle(&self) -> Lifecycle<'_> {
        self.ports.lifecycle()
    }

    fn objects(&self) -> &dyn ObjectStore {
        self.ports.objects.as_ref()
    }

    async fn get(&self, upload: &UploadId) -> Result<crate::record::UploadRecord, StepError> {
        let record = self
            .ports
            .uploads
            .get(upload)
            .await
            .map_err(|source| StepError::Uploads {
                upload: *upload,
                source,
            })?;
        record.trace_correlation();
        Ok(record)
    }
}
