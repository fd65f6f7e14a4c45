//! `NotifyQueue`: owner emails as a queue consumer, for the AWS backend, where events reach
//! the notifier through an EventBridge rule that sends them to an SQS queue.
//!
//! A message is the EventBridge event as the rule delivers it (`{"source": "vetted",
//! "detail-type": …, "detail": {…}}`, the detail being the [`UploadEvent`]); a bare event is
//! read too. Handling a message again sends nothing new (the ledger), so SQS's redeliveries
//! and a redrive from the dead-letter queue are safe.

use std::sync::Arc;

use async_trait::async_trait;

use super::EmailNotifier;
use crate::events::UploadEvent;
use crate::service::{QueueService, StepError};

pub struct NotifyQueue {
    pub notifier: Arc<EmailNotifier>,
}

impl NotifyQueue {
    /// The event in a queue message.
    pub fn parse(body: &str) -> Result<UploadEvent, StepError> {
        let value: serde_json::Value =
            serde_json::from_str(body).map_err(|e| StepError::MalformedEvent(e.to_string()))?;
        let event = match value.get("detail") {
            Some(detail) => detail.clone(),
            None => value,
        };
        serde_json::from_value(event).map_err(|e| StepError::MalformedEvent(e.to_string()))
    }
}

#[async_trait]
impl QueueService for NotifyQueue {
    fn name(&self) -> &'static str {
        "notify"
    }

    async fn handle(&self, body: &str) -> Result<(), StepError> {
        let event = Self::parse(body)?;
        self.notifier
            .handle(&event)
            .await
            .map(|_| ())
            .map_err(|source| StepError::Notify {
                upload: event.upload_id,
                source,
            })
    }
}
