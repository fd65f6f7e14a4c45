//! `SqsWorkQueue`: the work queue port over SQS, with its dead-letter queue.
//!
//! SQS does the hard parts itself: visibility timeouts, receive counts and moving a message to
//! the dead-letter queue after the redrive policy's `maxReceiveCount`. `redrive` moves
//! messages back one by one (receive from the DLQ, send to the source, delete from the DLQ),
//! so that it can stop after exactly `max` and report how many moved; `StartMessageMoveTask`
//! moves everything, asynchronously, and says nothing about how many.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use vetted_core::ports::{QueueError, QueueMessage, QueueStats, Receipt, WorkQueue};

use crate::errors::{SdkError, backend_error, unusable_answer};

/// SQS delivers at most ten messages per receive.
const MAX_BATCH: u32 = 10;
/// The longest long poll SQS allows.
const MAX_WAIT_SECONDS: u64 = 20;
/// The longest `DelaySeconds` SQS allows (15 minutes).
const MAX_DELAY_SECONDS: u64 = 900;
/// The longest visibility timeout SQS allows (12 hours).
const MAX_VISIBILITY_SECONDS: u64 = 43_200;

/// One SQS queue and the dead-letter queue its redrive policy names.
#[derive(Debug, Clone)]
pub struct SqsWorkQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    dead_letter_url: String,
}

impl SqsWorkQueue {
    pub fn new(
        client: aws_sdk_sqs::Client,
        queue_url: impl Into<String>,
        dead_letter_url: impl Into<String>,
    ) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            dead_letter_url: dead_letter_url.into(),
        }
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    pub fn dead_letter_url(&self) -> &str {
        &self.dead_letter_url
    }

    async fn receive_from(
        &self,
        url: &str,
        max: u32,
        wait: Duration,
    ) -> Result<Vec<QueueMessage>, QueueError> {
        let output = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max.clamp(1, MAX_BATCH) as i32)
            .wait_time_seconds(whole_seconds(wait, MAX_WAIT_SECONDS))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| backend_error("sqs:ReceiveMessage", e))?;
        output
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|message| {
                let receive_count = message
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse::<u32>().ok())
                    .ok_or_else(|| {
                        unusable_answer("sqs:ReceiveMessage", "no ApproximateReceiveCount")
                    })?;
                let (Some(id), Some(receipt)) = (message.message_id, message.receipt_handle) else {
                    return Err(unusable_answer(
                        "sqs:ReceiveMessage",
                        "a message without id or receipt handle",
                    )
                    .into());
                };
                Ok(QueueMessage {
                    id,
                    receipt: Receipt(receipt),
                    body: message.body.unwrap_or_default(),
                    receive_count,
                })
            })
            .collect()
    }

    async fn counts(&self, url: &str) -> Result<(u64, u64), QueueError> {
        let output = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| backend_error("sqs:GetQueueAttributes", e))?;
        let attributes = output.attributes.unwrap_or_default();
        let count = |name: &QueueAttributeName| -> Result<u64, QueueError> {
            attributes
                .get(name)
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| {
                    unusable_answer("sqs:GetQueueAttributes", format!("no {name}")).into()
                })
        };
        Ok((
            count(&QueueAttributeName::ApproximateNumberOfMessages)?,
            count(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?,
        ))
    }
}

/// SQS counts in whole seconds. Rounding up keeps a short wait a real (long) poll instead of
/// a short poll, which on SQS samples only some servers and may miss a waiting message.
fn whole_seconds(duration: Duration, max: u64) -> i32 {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(seconds.min(max)).unwrap_or(i32::MAX)
}

/// A receipt SQS no longer honours: the message was deleted, or received again since.
fn receipt_error<E>(operation: &'static str, err: SdkError<E>) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    // SQS (and moto) name a bad handle `ReceiptHandleIsInvalid` and a message no longer in
    // flight `MessageNotInflight`; SQS also answers a handle whose message was deleted with
    // `InvalidParameterValue` about the receipt handle.
    let about_receipt = err
        .message()
        .is_some_and(|m| m.to_ascii_lowercase().contains("receipthandle"));
    let stale = err.code().is_some_and(|code| {
        code.ends_with("ReceiptHandleIsInvalid")
            || code.ends_with("MessageNotInflight")
            || (code.ends_with("InvalidParameterValue") && about_receipt)
    });
    if stale {
        QueueError::StaleReceipt
    } else {
        backend_error(operation, err).into()
    }
}

#[async_trait]
impl WorkQueue for SqsWorkQueue {
    #[tracing::instrument(skip(self, body), fields(queue = %self.queue_url))]
    async fn send(&self, body: &str) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| backend_error("sqs:SendMessage", e))?;
        Ok(())
    }

    #[tracing::instrument(skip(self, body), fields(queue = %self.queue_url))]
    async fn send_delayed(&self, body: &str, delay: Duration) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(whole_seconds(delay, MAX_DELAY_SECONDS))
            .send()
            .await
            .map_err(|e| backend_error("sqs:SendMessage", e))?;
        Ok(())
    }

    #[tracing::instrument(skip(self), fields(queue = %self.queue_url))]
    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<QueueMessage>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.receive_from(&self.queue_url, max, wait).await
    }

    #[tracing::instrument(skip(self), fields(queue = %self.queue_url))]
    async fn ack(&self, receipt: &Receipt) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(&receipt.0)
            .send()
            .await
            .map_err(|e| receipt_error("sqs:DeleteMessage", e))?;
        Ok(())
    }

    #[tracing::instrument(skip(self), fields(queue = %self.queue_url))]
    async fn retry_after(&self, receipt: &Receipt, delay: Duration) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(&receipt.0)
            .visibility_timeout(whole_seconds(delay, MAX_VISIBILITY_SECONDS))
            .send()
            .await
            .map_err(|e| receipt_error("sqs:ChangeMessageVisibility", e))?;
        Ok(())
    }

    #[tracing::instrument(skip(self), fields(queue = %self.queue_url))]
    async fn redrive(&self, max: u32) -> Result<u32, QueueError> {
        let mut moved = 0;
        while moved < max {
            // A short poll may miss messages on SQS (it samples some servers); a one-second
            // long poll does not, so an empty answer really means no dead letters are left.
            let batch = self
                .receive_from(&self.dead_letter_url, max - moved, Duration::from_secs(1))
                .await?;
            if batch.is_empty() {
                break;
            }
            for message in batch {
                // Send before delete: a failure in between leaves a duplicate, never a loss.
                self.send(&message.body).await?;
                self.client
                    .delete_message()
                    .queue_url(&self.dead_letter_url)
                    .receipt_handle(&message.receipt.0)
                    .send()
                    .await
                    .map_err(|e| backend_error("sqs:DeleteMessage(dead letter)", e))?;
                moved += 1;
            }
        }
        tracing::info!(moved, "redrove dead letters");
        Ok(moved)
    }

    #[tracing::instrument(skip(self), fields(queue = %self.queue_url))]
    async fn stats(&self) -> Result<QueueStats, QueueError> {
        let (visible, in_flight) = self.counts(&self.queue_url).await?;
        let (dead_visible, dead_in_flight) = self.counts(&self.dead_letter_url).await?;
        Ok(QueueStats {
            visible,
            in_flight,
            dead: dead_visible + dead_in_flight,
        })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityError;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::errors::service_error;

    fn visibility_error(code: &str, message: &str) -> QueueError {
        let metadata = ErrorMetadata::builder().code(code).message(message).build();
        let err = ChangeMessageVisibilityError::generic(metadata);
        receipt_error("sqs:ChangeMessageVisibility", service_error(err, 400))
    }

    #[test]
    fn answers_about_an_unusable_receipt_are_stale_receipts() {
        for (code, message) in [
            (
                "ReceiptHandleIsInvalid",
                "The input receipt handle is invalid.",
            ),
            ("AWS.SimpleQueueService.MessageNotInflight", "not in flight"),
            (
                "InvalidParameterValue",
                "Value x for parameter ReceiptHandle is invalid. Reason: Message does not exist.",
            ),
        ] {
            assert!(
                matches!(visibility_error(code, message), QueueError::StaleReceipt),
                "{code}"
            );
        }
        assert!(matches!(
            visibility_error("InvalidParameterValue", "VisibilityTimeout is out of range"),
            QueueError::Backend(_)
        ));
    }

    #[test]
    fn waits_round_up_to_whole_seconds_within_the_limit() {
        assert_eq!(whole_seconds(Duration::ZERO, 20), 0);
        assert_eq!(whole_seconds(Duration::from_millis(1), 20), 1);
        assert_eq!(whole_seconds(Duration::from_secs(2), 20), 2);
        assert_eq!(whole_seconds(Duration::from_millis(2_500), 20), 3);
        assert_eq!(whole_seconds(Duration::from_secs(3_600), 20), 20);
    }
}
