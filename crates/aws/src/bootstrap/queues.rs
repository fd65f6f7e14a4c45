//! Work queues with their dead-letter queues, created or brought up to date.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::json;

use super::{BootstrapError, QueueUrls};
use crate::errors::{backend_error, unusable_answer};

/// Dead letters wait for an operator as long as SQS allows: 14 days.
const DEAD_LETTER_RETENTION_SECONDS: u64 = 14 * 24 * 60 * 60;

/// The queue `name` and its `name-dlq`, with a redrive policy after `max_receives`. When
/// `bucket` is given, S3 notifications from that bucket may send to the queue.
pub(super) async fn ensure_pair(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    visibility: Duration,
    max_receives: u32,
    bucket: Option<&str>,
) -> Result<QueueUrls, BootstrapError> {
    let dead_letter_url = ensure_queue(
        sqs,
        &format!("{name}-dlq"),
        HashMap::from([(
            QueueAttributeName::MessageRetentionPeriod,
            DEAD_LETTER_RETENTION_SECONDS.to_string(),
        )]),
    )
    .await?;
    let dead_letter_arn = queue_arn(sqs, &dead_letter_url).await?;
    let redrive = json!({
        "deadLetterTargetArn": dead_letter_arn,
        "maxReceiveCount": max_receives,
    });
    let attributes = HashMap::from([
        (
            QueueAttributeName::VisibilityTimeout,
            visibility.as_secs().to_string(),
        ),
        (QueueAttributeName::RedrivePolicy, redrive.to_string()),
    ]);
    let url = ensure_queue(sqs, name, attributes).await?;
    if let Some(bucket) = bucket {
        // The policy names the queue's own ARN, which exists only once the queue does.
        let arn = queue_arn(sqs, &url).await?;
        sqs.set_queue_attributes()
            .queue_url(&url)
            .attributes(QueueAttributeName::Policy, s3_may_send(&arn, bucket))
            .send()
            .await
            .map_err(|e| backend_error("sqs:SetQueueAttributes", e))?;
    }
    Ok(QueueUrls {
        url,
        dead_letter_url,
    })
}

/// On AWS, S3 may deliver notifications only to a queue whose policy lets it.
fn s3_may_send(queue_arn: &str, bucket: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "S3UploadNotifications",
            "Effect": "Allow",
            "Principal": { "Service": "s3.amazonaws.com" },
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": { "ArnLike": { "aws:SourceArn": format!("arn:aws:s3:::{bucket}") } }
        }]
    })
    .to_string()
}

/// Creates the queue, or sets these attributes on it if it exists: `CreateQueue` refuses a
/// second call whose attributes differ, which would make a changed setting un-applicable.
async fn ensure_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: HashMap<QueueAttributeName, String>,
) -> Result<String, BootstrapError> {
    match sqs.get_queue_url().queue_name(name).send().await {
        Ok(found) => {
            let url = found
                .queue_url
                .ok_or_else(|| unusable_answer("sqs:GetQueueUrl", "no queue URL"))?;
            sqs.set_queue_attributes()
                .queue_url(&url)
                .set_attributes(Some(attributes))
                .send()
                .await
                .map_err(|e| backend_error("sqs:SetQueueAttributes", e))?;
            Ok(url)
        }
        Err(e) if e.code().is_some_and(is_missing_queue) => {
            let created = sqs
                .create_queue()
                .queue_name(name)
                .set_attributes(Some(attributes))
                .send()
                .await
                .map_err(|e| backend_error("sqs:CreateQueue", e))?;
            Ok(created
                .queue_url
                .ok_or_else(|| unusable_answer("sqs:CreateQueue", "no queue URL"))?)
        }
        Err(e) => Err(backend_error("sqs:GetQueueUrl", e).into()),
    }
}

/// The JSON protocol says `QueueDoesNotExist`; the older query protocol's code lingers.
fn is_missing_queue(code: &str) -> bool {
    code == "QueueDoesNotExist" || code.ends_with("NonExistentQueue")
}

pub(super) async fn queue_arn(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> Result<String, BootstrapError> {
    let output = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| backend_error("sqs:GetQueueAttributes", e))?;
    output
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| unusable_answer("sqs:GetQueueAttributes", "no QueueArn").into())
}
