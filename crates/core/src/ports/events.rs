//! The event sink port: where domain events go (EventBridge, or a durable outbox); and the
//! event feed, the outbox read back in order for open pages (one machine only).

use std::sync::Arc;

use async_trait::async_trait;
use thiserror::Error;
use tokio::sync::Notify;

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

/// One event as the feed recorded it: `seq` grows with every event recorded and is never reused.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub seq: u64,
    pub event: UploadEvent,
}

/// What [`EventFeed::after`] read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeedPage {
    /// Events with a larger `seq` than asked for, oldest first.
    pub events: Vec<RecordedEvent>,
    /// The highest `seq` recorded so far (0 when none).
    pub latest: u64,
    /// Events up to and including this `seq` may have been purged: a reader that last saw an
    /// older one cannot replay everything it missed.
    pub purged_through: u64,
}

/// Events read back in the order they were recorded, for live pages; the outbox of one machine.
///
/// Contract: `seq` only grows (a purge never lets it go back), `after(n, _)` returns the events
/// with `seq > n` that are still kept, and [`EventFeed::arrivals`] is notified (with
/// `notify_waiters`) after every event recorded by this process, so a reader registers
/// interest before it reads (`Notified::enable`) and then misses nothing.
#[async_trait]
pub trait EventFeed: Send + Sync {
    async fn after(&self, seq: u64, limit: u32) -> Result<FeedPage, EventError>;

    fn arrivals(&self) -> Arc<Notify>;
}
