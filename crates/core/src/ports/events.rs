//! The event sink port: where domain events go (EventBridge, or a durable outbox).

use async_trait::async_trait;
use thiserror::Error;

use super::{BackendError, Retryable};
use crate::events::UploadEvent;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EventError {
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Retryable for EventError {
    fn is_retryable(&self) -> bool {
        match self {
            EventError::Backend(e) => e.retryable,
        }
    }
}

/// Publishes domain events.
///
/// Contract:
/// - `publish` returns only once the event is durably accepted; an error means it may not be.
/// - Publishing the same event (same id) twice is allowed: consumers deduplicate by id.
#[async_trait]
pub trait EventSink: Send + Sync {
    async fn publish(&self, event: &UploadEvent) -> Result<(), EventError>;
}
