//! The review workflow port: start a review, and answer the tasks it waits on.

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

/// The engine that runs `statemachine/review.asl.json`.
///
/// Contract:
/// - `start` begins an execution named `name`. Starting a name that already exists is
///   `AlreadyStarted`, never a second execution.
/// - `send_task_success` and `send_task_failure` answer the task that issued `token`; a token
///   whose task timed out or whose execution ended is `TaskGone`.
#[async_trait]
pub trait ReviewWorkflow: Send + Sync {
    async fn start(
        &self,
        name: &ExecutionName,
        input: &ReviewStart,
    ) -> Result<StartOutcome, WorkflowError>;

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
