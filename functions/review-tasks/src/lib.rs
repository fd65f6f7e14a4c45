//! The review workflow's task workers, as the `review-tasks` and `sanitize` functions run them:
//! their settings, their composition over the AWS adapters, and the SQS batch handler, kept
//! out of `main.rs` so that tests drive exactly what Lambda runs. The two functions run this
//! same code; they differ only in the queue they consume and the memory they are given
//! (decoding whole images needs far more), which is why they are two.
//!
//! Each message is a task the review workflow sent with a task token: sanitize, await a
//! decision (store the token for the moderator), publish, decline, expire, or record a
//! failure. The core
//! review does the task and answers the workflow; a task that cannot be done is reported to
//! the workflow as a failure and acknowledged. A message fails only when a retry may help
//! (throttling, a timeout) or when it is not a task message at all, which then ends in the
//! dead-letter queue.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use tracing::info;
use vetted_aws::config::AwsContext;
use vetted_aws::dynamo::DynamoUploads;
use vetted_aws::eventbridge::EventBridgeEventSink;
use vetted_aws::s3::S3ObjectStore;
use vetted_aws::sfn::SfnReviewWorkflow;
use vetted_core::review::Review;
use vetted_core::review::sanitize::DEFAULT_MAX_DECODE_ALLOC;
use vetted_core::{Policy, SystemClock};
use vetted_lambda::env::{self, EnvError};
use vetted_lambda::sqs::{Failure, handle_batch};

/// What the function is told by its environment (see `ReviewTasksFunction` and
/// `SanitizeFunction` in the SAM template).
#[derive(Debug, Clone)]
pub struct Config {
    pub bucket: String,
    pub table: String,
    pub event_bus: String,
    /// Used only if a sanitize task is ever routed here; the template sets no policy variables
    /// for this function, so it is the default unless `VETTED_POLICY_*` says otherwise.
    pub policy: Policy,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        Ok(Self {
            bucket: env::required("VETTED_BUCKET")?,
            table: env::required("VETTED_TABLE")?,
            event_bus: env::required("VETTED_EVENT_BUS")?,
            policy: env::policy()?,
        })
    }
}

/// The review service over S3, DynamoDB, Step Functions and EventBridge.
pub fn review(ctx: &AwsContext, config: Config) -> Review {
    Review {
        uploads: Arc::new(DynamoUploads::new(ctx.dynamodb(), config.table)),
        objects: Arc::new(S3ObjectStore::new(ctx.s3(), config.bucket)),
        // Tasks are only answered here, never started: the token names its execution, so no
        // state machine ARN is needed (and the template gives this function none).
        workflow: Arc::new(SfnReviewWorkflow::new(ctx.sfn(), String::new())),
        events: Arc::new(EventBridgeEventSink::new(
            ctx.eventbridge(),
            config.event_bus,
        )),
        clock: Arc::new(SystemClock),
        policy: config.policy,
        max_decode_alloc: DEFAULT_MAX_DECODE_ALLOC,
    }
}

/// Handles one batch from the review-tasks queue's event source mapping.
#[derive(Clone)]
pub struct TaskHandler {
    review: Arc<Review>,
}

impl TaskHandler {
    pub fn new(review: Arc<Review>) -> Self {
        Self { review }
    }

    /// Runs every task; the response names only the messages that failed.
    #[tracing::instrument(skip_all, fields(messages = event.records.len()))]
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let review = self.review.as_ref();
        handle_batch(event, |body| async move {
            let outcome = review.handle_message(&body).await.map_err(Failure)?;
            info!(?outcome, "task handled");
            Ok::<(), Failure<_>>(())
        })
        .await
    }
}
