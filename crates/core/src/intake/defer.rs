//! Absorbing a throttled review start: instead of failing the queue message (every receive
//! counts toward the queue's `maxReceiveCount`, so a burst would dead-letter good uploads),
//! intake re-sends the notification of the throttled records to its own queue with a delay
//! and acknowledges the original. The upload stays `RECEIVED` with its execution name
//! recorded; the re-sent notification resumes from there (`claim` resumes a `RECEIVED` record,
//! and the execution name makes the start idempotent).
//!
//! The delay grows with the attempt carried in the re-sent body
//! ([`DEFERRAL_FIELD`](super::s3_event::DEFERRAL_FIELD)): exponential from [`FIRST_DELAY`],
//! capped at [`MAX_SEND_DELAY`] (SQS's `DelaySeconds` maximum), with "equal jitter" (half
//! the step fixed, half spread) so that a burst throttled together does not come back
//! together. There is no limit on attempts: throttling always clears, and a deferred upload
//! is never `FAILED` for it.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::ports::{MAX_SEND_DELAY, WorkQueue};

/// The first deferral's step: the delay is between half of it and all of it.
pub const FIRST_DELAY: Duration = Duration::from_secs(1);

/// Where and how intake defers throttled review starts.
#[derive(Clone)]
pub struct Deferral {
    /// Intake's own queue; `None` fails a throttled message instead (it is retried by the
    /// queue, and counts toward its dead-letter limit).
    queue: Option<Arc<dyn WorkQueue>>,
    first: Duration,
    max: Duration,
}

impl Deferral {
    /// No deferral: a throttled start fails its message, as any retryable error does.
    pub fn none() -> Self {
        Self {
            queue: None,
            first: FIRST_DELAY,
            max: MAX_SEND_DELAY,
        }
    }

    /// Defers throttled starts through `queue`, the queue intake consumes.
    pub fn via(queue: Arc<dyn WorkQueue>) -> Self {
        Self {
            queue: Some(queue),
            ..Self::none()
        }
    }

    /// The same, with other delays (tests keep them short); `max` is capped at
    /// [`MAX_SEND_DELAY`].
    pub fn with_delays(self, first: Duration, max: Duration) -> Self {
        Self {
            first,
            max: max.min(MAX_SEND_DELAY),
            ..self
        }
    }

    pub(super) fn queue(&self) -> Option<&dyn WorkQueue> {
        self.queue.as_deref()
    }

    /// The delay before the `attempt`-th deferral (1 for the first) of the notification
    /// `seed` names is delivered again: a step of `first · 2^(attempt-1)`, at most `max`, of
    /// which the first half is fixed and the second spread by a hash of `seed`.
    pub fn delay(&self, attempt: u32, seed: &[u8]) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let step = self
            .first
            .saturating_mul(1u32 << doublings)
            .min(self.max)
            .max(Duration::from_millis(2));
        let digest = Sha256::digest(seed);
        let spread = u64::from_le_bytes(digest[..8].try_into().unwrap_or([0; 8]));
        let half = step / 2;
        let half_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX).max(1);
        half + Duration::from_millis(spread % (half_ms + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_a_second_within_jitter_and_stop_at_the_sqs_maximum() {
        let d = Deferral::none();
        for attempt in 1..=20u32 {
            let step = Duration::from_secs(1u64 << (attempt - 1).min(30)).min(MAX_SEND_DELAY);
            for seed in [&b"a"[..], b"b", b"another notification"] {
                let delay = d.delay(attempt, seed);
                assert!(
                    delay >= step / 2 && delay <= step,
                    "attempt {attempt}: {delay:?} outside {:?}..={step:?}",
                    step / 2
                );
            }
        }
        assert!(d.delay(u32::MAX, b"x") <= MAX_SEND_DELAY);
        assert!(d.delay(0, b"x") <= FIRST_DELAY);
    }

    #[test]
    fn jitter_spreads_notifications_deferred_together() {
        let d = Deferral::none();
        let delays: std::collections::HashSet<Duration> = (0..50)
            .map(|i| d.delay(10, format!("notification {i}").as_bytes()))
            .collect();
        assert!(delays.len() > 40, "only {} distinct delays", delays.len());
    }

    #[test]
    fn a_longer_maximum_than_sqs_allows_is_capped() {
        let d = Deferral::none().with_delays(Duration::from_secs(10), Duration::from_secs(5000));
        assert!(d.delay(30, b"x") <= MAX_SEND_DELAY);
        let short =
            Deferral::none().with_delays(Duration::from_millis(10), Duration::from_millis(40));
        assert!(short.delay(10, b"x") <= Duration::from_millis(40));
    }
}
