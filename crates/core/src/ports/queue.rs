//! The work queue port: durable messages for workers, with retries and a dead-letter queue.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;

use super::{BackendError, Retryable};

/// The longest delay `send_delayed` honours: SQS's `DelaySeconds` maximum, 15 minutes.
pub const MAX_SEND_DELAY: Duration = Duration::from_secs(900);

/// A handle for acknowledging or retrying one receipt of one message.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Receipt(pub String);

impl fmt::Debug for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.0.chars().take(12).collect();
        write!(f, "Receipt({shown}…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub id: String,
    pub receipt: Receipt,
    pub body: String,
    /// 1 on the first delivery; counts every receipt, including this one.
    pub receive_count: u32,
}

/// Approximate counts, for operators and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    pub visible: u64,
    pub in_flight: u64,
    pub dead: u64,
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The receipt is unknown or stale (the message was acked, or received again since).
    #[error("receipt is no longer valid")]
    StaleReceipt,
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Retryable for QueueError {
    fn is_retryable(&self) -> bool {
        match self {
            QueueError::StaleReceipt => false,
            QueueError::Backend(e) => e.retryable,
        }
    }
}

/// A queue with at-least-once delivery.
///
/// Contract:
/// - A sent message is delivered by a later `receive`, at least once, until it is acked.
/// - A received message is invisible to other receivers for the queue's visibility timeout,
///   then is delivered again with a higher `receive_count`.
/// - Once a message has been received the queue's maximum number of times without an ack, it
///   moves to the dead-letter queue instead of being delivered again.
/// - `receive` waits up to `wait` for the first message, then returns what is there (possibly
///   nothing), at most `max` messages.
/// - `send_delayed` sends a message that no `receive` delivers before `delay` has passed (at
///   most [`MAX_SEND_DELAY`], as SQS allows; a longer delay is that maximum). It is a new
///   message: its first delivery has `receive_count` 1.
///   Until then `stats` counts it differently by adapter: SQS reports it apart from
///   `visible` and `in_flight` (its `ApproximateNumberOfMessagesDelayed`, which `QueueStats`
///   leaves out); SQLite counts it as `in_flight`. (moto honours `DelaySeconds` as SQS does:
///   the contract check passes on it.)
/// - `retry_after` makes a received message visible again after `delay`.
/// - `redrive` moves up to `max` dead letters back to the queue, and returns how many moved.
#[async_trait]
pub trait WorkQueue: Send + Sync {
    async fn send(&self, body: &str) -> Result<(), QueueError>;

    async fn send_delayed(&self, body: &str, delay: Duration) -> Result<(), QueueError>;

    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<QueueMessage>, QueueError>;

    async fn ack(&self, receipt: &Receipt) -> Result<(), QueueError>;

    async fn retry_after(&self, receipt: &Receipt, delay: Duration) -> Result<(), QueueError>;

    async fn redrive(&self, max: u32) -> Result<u32, QueueError>;

    async fn stats(&self) -> Result<QueueStats, QueueError>;
}
