//! The review workflow ports, by role: start a review ([`ReviewStarter`]), and answer the
//! tasks it waits on ([`TaskResponder`]).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{BackendError, Retryable};
use crate::ids::{ExecutionName, TaskToken, UploadId};

/// The input of one review execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewStart {
    pub upload_id: UploadId,
    /// How long the review waits for a moderator in all: the sum of `review_stages`.
    pub review_timeout_seconds: u64,
    /// How that time splits into await stages (the ASL's `TimeoutSecondsPath`s).
    pub review_stages: ReviewStages,
}

/// The await stages of one review, in seconds: `AwaitDecision` waits `initial_seconds`; if
/// `level_1_seconds` is set, escalation level 1 follows and `AwaitDecisionLevel1` waits that
/// long, and likewise for level 2; the last stage's timeout expires the review. Computed at
/// start by [`crate::review::EscalationShares::stages`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewStages {
    /// How many escalation levels follow the first stage (0, 1 or 2); the await tasks pass
    /// it on, and the record keeps it, so that a decision can tell the last stage.
    pub escalation_levels: u8,
    pub initial_seconds: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_1_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_2_seconds: Option<u64>,
}

impl ReviewStages {
    /// One stage for the whole timeout: no escalation.
    pub fn without_escalation(review_timeout_seconds: u64) -> Self {
        Self {
            escalation_levels: 0,
            initial_seconds: review_timeout_seconds,
            level_1_seconds: None,
            level_2_seconds: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    Started,
    /// An execution with this name exists already: a retried start of the same review.
    AlreadyStarted,
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// The task no longer waits: it timed out, or its execution ended.
    #[error("the workflow task is no longer waiting for an answer")]
    TaskGone,
    /// The engine refused the call for now because its request rate is exceeded (Step
    /// Functions' `ThrottlingException`, an HTTP 429). Retryable, and told apart from other
    /// retryable errors so that intake can defer a throttled start without spending one of the
    /// queue message's receives on it.
    #[error("throttled: {0}")]
    Throttled(BackendError),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Retryable for WorkflowError {
    fn is_retryable(&self) -> bool {
        match self {
            WorkflowError::TaskGone => false,
            WorkflowError::Throttled(_) => true,
            WorkflowError::Backend(e) => e.retryable,
        }
    }
}

/// Starts reviews: the side of the workflow engine that intake needs.
///
/// Contract:
/// - `start` begins an execution named `name`. Starting a name that already exists is
///   `AlreadyStarted`, never a second execution.
/// - An engine that limits its request rate answers a start over the limit with
///   `Throttled`, and no execution is started. (The embedded engine has no rate limit and
///   never does.)
#[async_trait]
pub trait ReviewStarter: Send + Sync {
    async fn start(
        &self,
        name: &ExecutionName,
        input: &ReviewStart,
    ) -> Result<StartOutcome, WorkflowError>;
}

/// Answers the tasks a review waits on: the side of the workflow engine that the task workers
/// and the moderator's decisions need. A token names its own execution, so no state machine
/// is configured here.
///
/// Contract:
/// - `send_task_success` and `send_task_failure` answer the task that issued `token`; a token
///   whose task timed out or whose execution ended is `TaskGone`.
#[async_trait]
pub trait TaskResponder: Send + Sync {
    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> Result<(), WorkflowError>;

    async fn send_task_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<(), WorkflowError>;
}

/// The whole engine that runs `statemachine/review.asl.json`: both roles, as `vetted serve`
/// and the contract suites hold it. Services take only the role they use.
pub trait ReviewWorkflow: ReviewStarter + TaskResponder {}

impl<T: ReviewStarter + TaskResponder + ?Sized> ReviewWorkflow for T {}
