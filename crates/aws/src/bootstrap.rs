//! Creating the pipeline's resources on an AWS emulator: bucket, queues, tables, state machine.
//!
//! [`bootstrap`] creates, or brings up to date, everything the pipeline needs under one name
//! prefix: the upload bucket (versioned) with its `incoming/` notification to the intake
//! queue; the intake, sanitize and review-task queues, each with a dead-letter queue; the
//! uploads table with both indexes and TTL; the restaurants table with its index; the
//! webhooks table with its `due` index; the notifications table; the event bus, with a rule
//! that sends the outcome events to the notify queue (and its dead-letter queue); and the review
//! state machine built from `statemachine/review.asl.json`. Running it again is safe: existing
//! resources are found and updated, not duplicated. On AWS itself the SAM template does this
//! job.

mod definition;
mod queues;
mod storage;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use vetted_core::ports::BackendError;

pub use definition::substitute;
pub use storage::{
    ensure_bucket, ensure_notifications_table, ensure_restaurants_table, ensure_table,
    ensure_webhooks_table,
};

use crate::config::AwsContext;
use crate::dynamo::{DynamoNotifications, DynamoRestaurants, DynamoUploads, DynamoWebhooks};
use crate::eventbridge::EventBridgeEventSink;
use crate::s3::S3ObjectStore;
use crate::sfn::SfnReviewWorkflow;
use crate::sqs::SqsWorkQueue;

/// What to create, and how the queues behave.
#[derive(Debug, Clone)]
pub struct BootstrapOptions<'a> {
    /// Every resource's name starts with this (`{prefix}-intake`, ...).
    pub prefix: &'a str,
    /// The review workflow's ASL text, with `${SanitizeQueueUrl}`-style placeholders.
    pub asl: &'a str,
    /// Receives without an ack before a message moves to its dead-letter queue.
    pub max_receives: u32,
    pub intake_visibility: Duration,
    pub sanitize_visibility: Duration,
    pub review_tasks_visibility: Duration,
    /// The role the state machine runs as. Emulators accept any ARN.
    pub state_machine_role_arn: Option<&'a str>,
}

impl<'a> BootstrapOptions<'a> {
    pub fn new(prefix: &'a str, asl: &'a str) -> Self {
        Self {
            prefix,
            asl,
            max_receives: 5,
            intake_visibility: Duration::from_secs(60),
            // A full decode and re-encode of a large image takes longer than a header read.
            sanitize_visibility: Duration::from_secs(300),
            review_tasks_visibility: Duration::from_secs(60),
            state_machine_role_arn: None,
        }
    }
}

/// One work queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueUrls {
    pub url: String,
    pub dead_letter_url: String,
}

/// What [`bootstrap`] created: everything `vetted serve --backend aws` needs to find.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub bucket: String,
    pub table: String,
    pub restaurants_table: String,
    /// Webhook endpoints and deliveries. Optional, so that resources files written before
    /// the table existed still read: nothing on the AWS backend uses it yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhooks_table: Option<String>,
    /// Email preferences and the sent ledger. Optional, as `webhooks_table` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications_table: Option<String>,
    /// The queue the outcome events reach through an EventBridge rule, for owner emails.
    /// Optional, as `webhooks_table` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<QueueUrls>,
    pub intake: QueueUrls,
    pub sanitize: QueueUrls,
    pub review_tasks: QueueUrls,
    pub event_bus: String,
    pub state_machine_arn: String,
}

impl Resources {
    pub fn object_store(&self, ctx: &AwsContext) -> S3ObjectStore {
        S3ObjectStore::new(ctx.s3(), &self.bucket)
    }

    pub fn multipart(&self, ctx: &AwsContext) -> crate::s3_multipart::S3Multipart {
        crate::s3_multipart::S3Multipart::new(ctx.s3(), &self.bucket)
    }

    pub fn uploads(&self, ctx: &AwsContext) -> DynamoUploads {
        DynamoUploads::new(ctx.dynamodb(), &self.table)
    }

    pub fn restaurants(&self, ctx: &AwsContext) -> DynamoRestaurants {
        DynamoRestaurants::new(ctx.dynamodb(), &self.restaurants_table)
    }

    /// The audit trail, which lives in the restaurants table.
    pub fn audit(&self, ctx: &AwsContext) -> crate::dynamo::DynamoAudit {
        crate::dynamo::DynamoAudit::new(ctx.dynamodb(), &self.restaurants_table)
    }

    /// The banned-content list, which lives in the restaurants table.
    pub fn banned(&self, ctx: &AwsContext) -> crate::dynamo::DynamoBanned {
        crate::dynamo::DynamoBanned::new(ctx.dynamodb(), &self.restaurants_table)
    }

    /// The webhooks store, when the resources name its table.
    pub fn webhooks(&self, ctx: &AwsContext) -> Option<DynamoWebhooks> {
        self.webhooks_table
            .as_ref()
            .map(|table| DynamoWebhooks::new(ctx.dynamodb(), table))
    }

    /// The notifications store, when the resources name its table.
    pub fn notifications(&self, ctx: &AwsContext) -> Option<DynamoNotifications> {
        self.notifications_table
            .as_ref()
            .map(|table| DynamoNotifications::new(ctx.dynamodb(), table))
    }

    pub fn queue(&self, ctx: &AwsContext, urls: &QueueUrls) -> SqsWorkQueue {
        SqsWorkQueue::new(ctx.sqs(), &urls.url, &urls.dead_letter_url)
    }

    pub fn workflow(&self, ctx: &AwsContext) -> SfnReviewWorkflow {
        SfnReviewWorkflow::new(ctx.sfn(), &self.state_machine_arn)
    }

    pub fn event_sink(&self, ctx: &AwsContext) -> EventBridgeEventSink {
        EventBridgeEventSink::new(ctx.eventbridge(), &self.event_bus)
    }
}

/// A work queue `name` with its dead-letter queue `name-dlq`, created or updated: messages
/// move to the dead-letter queue after `max_receives` receives without an ack.
pub async fn ensure_queue_pair(
    ctx: &AwsContext,
    name: &str,
    visibility: Duration,
    max_receives: u32,
) -> Result<QueueUrls, BootstrapError> {
    queues::ensure_pair(&ctx.sqs(), name, visibility, max_receives, None).await
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BootstrapError {
    #[error(
        "prefix {0:?} must be 1 to 40 characters of a-z, 0-9 and '-', starting and ending with a letter or digit"
    )]
    BadPrefix(String),
    #[error("the state machine definition still contains the placeholder ${{{0}}}")]
    UnresolvedPlaceholder(String),
    #[error("the state machine definition is not valid JSON")]
    Definition(#[source] serde_json::Error),
    #[error("table {table} exists but has no index {index}; delete it or use another prefix")]
    TableMismatch { table: String, index: &'static str },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

fn check_prefix(prefix: &str) -> Result<(), BootstrapError> {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    let ok = (1..=40).contains(&prefix.len())
        && prefix.bytes().all(allowed)
        && !prefix.starts_with('-')
        && !prefix.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(BootstrapError::BadPrefix(prefix.to_owned()))
    }
}

/// Creates (or updates) every resource the pipeline needs, and says what they are.
#[tracing::instrument(skip(ctx, options), fields(prefix = options.prefix))]
pub async fn bootstrap(
    ctx: &AwsContext,
    options: &BootstrapOptions<'_>,
) -> Result<Resources, BootstrapError> {
    check_prefix(options.prefix)?;
    let prefix = options.prefix;
    let sqs = ctx.sqs();
    let bucket = format!("{prefix}-uploads");

    storage::ensure_bucket(ctx, &bucket).await?;
    let intake = queues::ensure_pair(
        &sqs,
        &format!("{prefix}-intake"),
        options.intake_visibility,
        options.max_receives,
        Some(&bucket),
    )
    .await?;
    let sanitize = queues::ensure_pair(
        &sqs,
        &format!("{prefix}-sanitize"),
        options.sanitize_visibility,
        options.max_receives,
        None,
    )
    .await?;
    let review_tasks = queues::ensure_pair(
        &sqs,
        &format!("{prefix}-review-tasks"),
        options.review_tasks_visibility,
        options.max_receives,
        None,
    )
    .await?;
    let intake_arn = queues::queue_arn(&sqs, &intake.url).await?;
    storage::notify_on_upload(ctx, &bucket, &intake_arn).await?;

    let table = format!("{prefix}-uploads");
    storage::ensure_table(ctx, &table).await?;
    let restaurants_table = format!("{prefix}-restaurants");
    storage::ensure_restaurants_table(ctx, &restaurants_table).await?;
    let webhooks_table = format!("{prefix}-webhooks");
    storage::ensure_webhooks_table(ctx, &webhooks_table).await?;
    let notifications_table = format!("{prefix}-notifications");
    storage::ensure_notifications_table(ctx, &notifications_table).await?;
    let event_bus = format!("{prefix}-events");
    storage::ensure_event_bus(ctx, &event_bus).await?;
    let notify = queues::ensure_pair(
        &sqs,
        &format!("{prefix}-notify"),
        options.review_tasks_visibility,
        options.max_receives,
        None,
    )
    .await?;
    let notify_arn = queues::queue_arn(&sqs, &notify.url).await?;
    let outcomes = vetted_core::notify::Notice::EVENT_TYPES.map(|t| t.as_str());
    storage::route_events(
        ctx,
        &event_bus,
        &format!("{prefix}-notify"),
        &notify_arn,
        &outcomes,
    )
    .await?;

    let asl = substitute(
        options.asl,
        &[
            ("SanitizeQueueUrl", sanitize.url.as_str()),
            ("ReviewTasksQueueUrl", review_tasks.url.as_str()),
        ],
    )?;
    let role = options.state_machine_role_arn.map_or_else(
        || format!("arn:aws:iam::123456789012:role/{prefix}-review-workflow"),
        str::to_owned,
    );
    let state_machine_arn =
        definition::ensure_state_machine(ctx, &format!("{prefix}-review"), &asl, &role).await?;

    Ok(Resources {
        bucket,
        table,
        restaurants_table,
        webhooks_table: Some(webhooks_table),
        notifications_table: Some(notifications_table),
        notify: Some(notify),
        intake,
        sanitize,
        review_tasks,
        event_bus,
        state_machine_arn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_must_make_valid_bucket_and_queue_names() {
        for good in ["vetted", "t-1", "a", "abc-123"] {
            assert!(check_prefix(good).is_ok(), "{good}");
        }
        for bad in ["", "Vetted", "-x", "x-", "a_b", "a.b", &"x".repeat(41)] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }
}
