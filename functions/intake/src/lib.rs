//! The intake function: its settings, its composition over the AWS adapters, and the SQS batch
//! handler, kept out of `main.rs` so that tests drive exactly what Lambda runs.
//!
//! Every message is one S3 notification. A message is acknowledged when intake reached a
//! verdict on each of its records — accepted, rejected, or deleted as a stray — and fails
//! (is named in `batchItemFailures`) otherwise: a retryable error is tried again, and a body
//! that is not a notification keeps failing until the queue moves it to its dead-letter queue.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use tracing::info;
use vetted_aws::config::AwsContext;
use vetted_aws::dynamo::DynamoUploads;
use vetted_aws::eventbridge::EventBridgeEventSink;
use vetted_aws::s3::S3ObjectStore;
use vetted_aws::sfn::SfnReviewWorkflow;
use vetted_core::intake::Intake;
use vetted_core::{Policy, SystemClock};
use vetted_lambda::env::{self, EnvError};
use vetted_lambda::sqs::{Failure, handle_batch};

/// The template's default for `ReviewTimeoutSeconds`: a week.
pub const DEFAULT_REVIEW_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// What the function is told by its environment (see `IntakeFunction` in the SAM template).
#[derive(Debug, Clone)]
pub struct Config {
    pub bucket: String,
    pub table: String,
    pub state_machine_arn: String,
    pub event_bus: String,
    pub review_timeout: Duration,
    pub policy: Policy,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        Ok(Self {
            bucket: env::required("VETTED_BUCKET")?,
            table: env::required("VETTED_TABLE")?,
            state_machine_arn: env::required("VETTED_STATE_MACHINE_ARN")?,
            event_bus: env::required("VETTED_EVENT_BUS")?,
            review_timeout: env::seconds_or(
                "VETTED_REVIEW_TIMEOUT_SECONDS",
                DEFAULT_REVIEW_TIMEOUT,
            )?,
            policy: env::policy()?,
        })
    }
}

/// The intake service over S3, DynamoDB, Step Functions and EventBridge.
pub fn intake(ctx: &AwsContext, config: Config) -> Intake {
    Intake {
        uploads: Arc::new(DynamoUploads::new(ctx.dynamodb(), config.table)),
        objects: Arc::new(S3ObjectStore::new(ctx.s3(), config.bucket.clone())),
        workflow: Arc::new(SfnReviewWorkflow::new(ctx.sfn(), config.state_machine_arn)),
        events: Arc::new(EventBridgeEventSink::new(
            ctx.eventbridge(),
            config.event_bus,
        )),
        clock: Arc::new(SystemClock),
        policy: config.policy,
        bucket: config.bucket,
        review_timeout: config.review_timeout,
    }
}

/// Handles one batch from the intake queue's event source mapping.
#[derive(Clone)]
pub struct IntakeHandler {
    intake: Arc<Intake>,
}

impl IntakeHandler {
    pub fn new(intake: Arc<Intake>) -> Self {
        Self { intake }
    }

    /// Runs intake on every message; the response names only the messages that failed.
    #[tracing::instrument(skip_all, fields(messages = event.records.len()))]
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let intake = self.intake.as_ref();
        handle_batch(event, |body| async move {
            let outcomes = intake.handle_message(&body).await.map_err(Failure)?;
            info!(?outcomes, "notification handled");
            Ok::<(), Failure<_>>(())
        })
        .await
    }
}
