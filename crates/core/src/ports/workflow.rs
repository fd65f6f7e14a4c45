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
    /// How long `AwaitDecision` waits for a moderator (the ASL's `TimeoutSecondsPath`).
    pub review_timeout_seconds: u64,
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
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Retryable for WorkflowError {
    fn is_retryable(&self) -> bool {
        match self {
            WorkflowError::TaskGone => false,
            WorkflowError::Backend(e) => e.retryable,
        }
    }
}

/// Starts reviews: the side of the workflow engine that intake needs.
///
/// Contract:
/// - `start` begins an execution named `name`. Starting a name that already exists is
///   `AlreadyStarted`, never a second execution.
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
