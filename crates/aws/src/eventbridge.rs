//! `EventBridgeEventSink`: the event sink port over EventBridge.
//!
//! Each domain event becomes one entry on one bus: source `vetted`, detail-type the event's
//! type (`upload.published`, ...), detail the event's JSON. Rules route on the detail-type.
//! `PutEvents` answers 200 even when it refused an entry, so the per-entry result decides.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_smithy_types::DateTime;
use thiserror::Error;
use vetted_core::events::UploadEvent;
use vetted_core::ports::{BackendError, EventError, EventSink};

use crate::errors::{backend_error, is_retryable_code};

/// The `source` of every event Vetted publishes.
pub const EVENT_SOURCE: &str = "vetted";

/// Publishes to one event bus.
#[derive(Debug, Clone)]
pub struct EventBridgeEventSink {
    client: aws_sdk_eventbridge::Client,
    bus_name: String,
}

impl EventBridgeEventSink {
    pub fn new(client: aws_sdk_eventbridge::Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
        }
    }

    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }
}

/// EventBridge accepted the call but not the entry.
#[derive(Debug, Error)]
#[error("EventBridge refused the event: {code}: {message}")]
pub struct RefusedEntry {
    pub code: String,
    pub message: String,
}

#[async_trait]
impl EventSink for EventBridgeEventSink {
    #[tracing::instrument(skip(self, event), fields(upload_id = %event.upload_id, event_id = %event.id))]
    async fn publish(&self, event: &UploadEvent) -> Result<(), EventError> {
        let detail = serde_json::to_string(event)
            .map_err(|e| BackendError::permanent("events:PutEvents", e))?;
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(EVENT_SOURCE)
            .detail_type(event.event_type.as_str())
            .detail(detail)
            .time(DateTime::from_millis(event.time.unix_millis()))
            .build();
        let output = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| backend_error("events:PutEvents", e))?;
        if output.failed_entry_count == 0 {
            return Ok(());
        }
        let failed = output.entries.unwrap_or_default().into_iter().next();
        let code = failed
            .as_ref()
            .and_then(|e| e.error_code.clone())
            .unwrap_or_else(|| "Unknown".to_owned());
        let message = failed.and_then(|e| e.error_message).unwrap_or_default();
        let retryable = is_retryable_code(&code);
        let refused = RefusedEntry { code, message };
        Err(BackendError {
            operation: "events:PutEvents",
            retryable,
            source: Box::new(refused),
        }
        .into())
    }
}
