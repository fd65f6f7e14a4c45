//! The intake function: its settings and its composition over the AWS adapters, kept out of
//! `main.rs` so that tests build exactly what Lambda runs.
//!
//! Every message is one S3 notification. A message is acknowledged when intake reached a
//! verdict on each of its records — accepted, rejected, or deleted as a stray — and fails
//! (is named in `batchItemFailures`) otherwise: a retryable error is tried again, and a body
//! that is not a notification keeps failing until the queue moves it to its dead-letter queue.
//! A record whose review start Step Functions throttled is the exception: its notification is
//! re-sent to the intake queue with a delay and the message acknowledged, so throttling never
//! spends a receive (see `vetted_core::intake::defer`).

use std::sync::Arc;
use std::time::Duration;

use vetted_aws::bootstrap::QueueUrls;
use vetted_aws::compose::PipelineConfig;
use vetted_aws::config::AwsContext;
use vetted_aws::sfn::SfnReviewWorkflow;
use vetted_aws::sqs::SqsWorkQueue;
use vetted_core::intake::{Deferral, Intake};
use vetted_core::policy::SlotPolicies;
use vetted_core::review::EscalationShares;
use vetted_core::settings::Env;

/// The template's default for `ReviewTimeoutSeconds`: a week.
pub const DEFAULT_REVIEW_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// What the function is told by its environment (see `IntakeFunction` in the SAM template).
#[derive(Debug, Clone)]
pub struct Config {
    pub common: PipelineConfig,
    pub state_machine_arn: String,
    /// The queue this function consumes (`VETTED_INTAKE_QUEUE_URL`) and its dead-letter queue
    /// (`VETTED_INTAKE_DEAD_LETTER_URL`): throttled review starts are deferred through it.
    pub intake_queue: QueueUrls,
    pub review_timeout: Duration,
    /// `VETTED_REVIEW_ESCALATION_PERCENT` (`50,90` by default, `none` for no escalation).
    pub escalation: EscalationShares,
    pub policies: SlotPolicies,
}

impl Config {
    pub fn from_env(env: &Env) -> anyhow::Result<Self> {
        Ok(Self {
            common: PipelineConfig::from_env(env)?,
            state_machine_arn: env.required("VETTED_STATE_MACHINE_ARN")?,
            intake_queue: QueueUrls {
                url: env.required("VETTED_INTAKE_QUEUE_URL")?,
                dead_letter_url: env.required("VETTED_INTAKE_DEAD_LETTER_URL")?,
            },
            review_timeout: env
                .seconds_or("VETTED_REVIEW_TIMEOUT_SECONDS", DEFAULT_REVIEW_TIMEOUT)?,
            escalation: env
                .parsed("VETTED_REVIEW_ESCALATION_PERCENT")?
                .unwrap_or_default(),
            policies: SlotPolicies::default().with_env(env)?,
        })
    }
}

/// The intake service over S3, DynamoDB, Step Functions and EventBridge.
pub fn intake(ctx: &AwsContext, config: Config) -> Intake {
    Intake {
        ports: config.common.ports(ctx),
        reviews: Arc::new(SfnReviewWorkflow::new(ctx.sfn(), config.state_machine_arn)),
        policies: config.policies,
        bucket: config.common.bucket,
        review_timeout: config.review_timeout,
        escalation: config.escalation,
        deferral: Deferral::via(Arc::new(SqsWorkQueue::new(
            ctx.sqs(),
            config.intake_queue.url,
            config.intake_queue.dead_letter_url,
        ))),
    }
}
