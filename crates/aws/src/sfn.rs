//! The review workflow ports over Step Functions: `SfnReviewWorkflow` starts executions of
//! one state machine and answers tasks; `SfnTaskResponder` only answers tasks, for the
//! workers that never start a review and so are given no state machine.
//!
//! Step Functions treats a repeated `StartExecution` with the same name and input as a success
//! while the first execution runs, and as `ExecutionAlreadyExists` otherwise; both mean the
//! review has already started. To tell a retried start from a first one, `start` looks the
//! execution up by name before starting it.

use async_trait::async_trait;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use vetted_core::ports::{
    BackendError, ReviewStart, ReviewStarter, StartOutcome, TaskResponder, WorkflowError,
};
use vetted_core::{ExecutionName, TaskToken};

use crate::errors::{SdkError, backend_error, is_throttling};

/// The longest `cause` Step Functions accepts on `SendTaskFailure`.
const MAX_CAUSE_BYTES: usize = 32_768;
/// The longest `error` it accepts.
const MAX_ERROR_BYTES: usize = 256;

/// Executions of one state machine: starts them, and answers their tasks.
#[derive(Debug, Clone)]
pub struct SfnReviewWorkflow {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
    tasks: SfnTaskResponder,
}

/// Answers task tokens of any execution: a token names its own execution.
#[derive(Debug, Clone)]
pub struct SfnTaskResponder {
    client: aws_sdk_sfn::Client,
}

impl SfnTaskResponder {
    pub fn new(client: aws_sdk_sfn::Client) -> Self {
        Self { client }
    }
}

impl SfnReviewWorkflow {
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            tasks: SfnTaskResponder::new(client.clone()),
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    pub fn state_machine_arn(&self) -> &str {
        &self.state_machine_arn
    }

    /// `arn:…:stateMachine:M` names its executions `arn:…:execution:M:NAME`.
    pub fn execution_arn(&self, name: &ExecutionName) -> Option<String> {
        let (head, machine) = self.state_machine_arn.split_once(":stateMachine:")?;
        Some(format!("{head}:execution:{machine}:{}", name.as_str()))
    }

    async fn exists(&self, name: &ExecutionName) -> Result<bool, WorkflowError> {
        let Some(arn) = self.execution_arn(name) else {
            return Ok(false);
        };
        match self
            .client
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ExecutionDoesNotExist") => Ok(false),
            Err(e) => Err(workflow_error("states:DescribeExecution", e)),
        }
    }
}

/// A failed call: `Throttled` when Step Functions refused it for its request rate (the SDK's
/// own retries did not get through), else a backend error, retryable or not.
fn workflow_error<E>(operation: &'static str, err: SdkError<E>) -> WorkflowError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if is_throttling(&err) {
        WorkflowError::Throttled(backend_error(operation, err))
    } else {
        backend_error(operation, err).into()
    }
}

/// The token's task no longer waits: it timed out, was answered, or its execution ended.
fn task_error<E>(operation: &'static str, err: SdkError<E>) -> WorkflowError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err.code() {
        Some("TaskTimedOut" | "InvalidToken" | "TaskDoesNotExist") => WorkflowError::TaskGone,
        _ => workflow_error(operation, err),
    }
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[async_trait]
impl ReviewStarter for SfnReviewWorkflow {
    #[tracing::instrument(skip(self, input), fields(upload_id = %input.upload_id))]
    async fn start(
        &self,
        name: &ExecutionName,
        input: &ReviewStart,
    ) -> Result<StartOutcome, WorkflowError> {
        if self.exists(name).await? {
            return Ok(StartOutcome::AlreadyStarted);
        }
        let input = serde_json::to_string(input)
            .map_err(|e| BackendError::permanent("states:StartExecution", e))?;
        match self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name.as_str())
            .input(input)
            .send()
            .await
        {
            Ok(_) => Ok(StartOutcome::Started),
            Err(e) if e.code() == Some("ExecutionAlreadyExists") => {
                Ok(StartOutcome::AlreadyStarted)
            }
            Err(e) => Err(workflow_error("states:StartExecution", e)),
        }
    }
}

#[async_trait]
impl TaskResponder for SfnReviewWorkflow {
    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> Result<(), WorkflowError> {
        self.tasks.send_task_success(token, output).await
    }

    async fn send_task_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<(), WorkflowError> {
        self.tasks.send_task_failure(token, error, cause).await
    }
}

#[async_trait]
impl TaskResponder for SfnTaskResponder {
    #[tracing::instrument(skip_all)]
    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> Result<(), WorkflowError> {
        self.client
            .send_task_success()
            .task_token(token.expose())
            .output(output.to_string())
            .send()
            .await
            .map_err(|e| task_error("states:SendTaskSuccess", e))?;
        Ok(())
    }

    #[tracing::instrument(skip(self, token, cause))]
    async fn send_task_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<(), WorkflowError> {
        self.client
            .send_task_failure()
            .task_token(token.expose())
            .error(truncate(error, MAX_ERROR_BYTES))
            .cause(truncate(cause, MAX_CAUSE_BYTES))
            .send()
            .await
            .map_err(|e| task_error("states:SendTaskFailure", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError;
    use aws_smithy_types::error::ErrorMetadata;

    use vetted_core::ports::Retryable;

    use super::*;
    use crate::errors::service_error;

    fn answer(code: &str) -> WorkflowError {
        let metadata = ErrorMetadata::builder().code(code).build();
        task_error(
            "states:SendTaskSuccess",
            service_error(SendTaskSuccessError::generic(metadata), 400),
        )
    }

    #[test]
    fn a_task_that_no_longer_waits_is_task_gone() {
        for code in ["TaskTimedOut", "InvalidToken", "TaskDoesNotExist"] {
            assert!(matches!(answer(code), WorkflowError::TaskGone), "{code}");
        }
        assert!(matches!(
            answer("InvalidOutput"),
            WorkflowError::Backend(BackendError {
                retryable: false,
                ..
            })
        ));
    }

    fn start_answer(status: u16, code: &str) -> WorkflowError {
        use aws_sdk_sfn::operation::start_execution::StartExecutionError;
        let metadata = ErrorMetadata::builder().code(code).build();
        workflow_error(
            "states:StartExecution",
            service_error(StartExecutionError::generic(metadata), status),
        )
    }

    #[test]
    fn a_throttled_start_is_throttled_and_other_failures_are_not() {
        for (status, code) in [(400, "ThrottlingException"), (429, "TooManyRequests")] {
            let e = start_answer(status, code);
            assert!(matches!(e, WorkflowError::Throttled(_)), "{code}: {e:?}");
            assert!(e.is_retryable(), "{code}");
        }
        let faulted = start_answer(500, "InternalFailure");
        assert!(
            matches!(
                faulted,
                WorkflowError::Backend(BackendError {
                    retryable: true,
                    ..
                })
            ),
            "{faulted:?}"
        );
        let refused = start_answer(400, "StateMachineDoesNotExist");
        assert!(
            matches!(
                refused,
                WorkflowError::Backend(BackendError {
                    retryable: false,
                    ..
                })
            ),
            "{refused:?}"
        );
        assert!(matches!(
            answer("ThrottlingException"),
            WorkflowError::Throttled(_)
        ));
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 3), "abc");
        assert_eq!(truncate("aé", 2), "a");
    }
}
