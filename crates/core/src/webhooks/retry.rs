//! When a failed delivery is tried again: exponential backoff with jitter over about a day,
//! a receiver's `Retry-After` respected within bounds, and what each answer means.

use std::time::Duration;

use time::PrimitiveDateTime;
use time::macros::format_description;

use crate::time::Timestamp;

/// The waits between attempts, before jitter: 10 attempts over about 23.7 hours.
pub const DEFAULT_DELAYS: [Duration; 9] = [
    Duration::from_secs(30),
    Duration::from_secs(2 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(3600),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(4 * 3600),
    Duration::from_secs(8 * 3600),
    Duration::from_secs(8 * 3600),
];

/// The longest wait a `Retry-After` may ask for; a longer one is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);

/// How a delivery is retried. Tests give short delays; `vetted serve` uses the default.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySchedule {
    /// The wait after attempt `n` (1-based) is `delays[n - 1]`; after the last, the delivery
    /// has failed. So there are `delays.len() + 1` attempts.
    pub delays: Vec<Duration>,
    /// Each wait is scaled by a random factor in `1 ± jitter` (0.0 to 1.0).
    pub jitter: f64,
    /// The cap on a receiver's `Retry-After`.
    pub max_retry_after: Duration,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self {
            delays: DEFAULT_DELAYS.to_vec(),
            jitter: 0.2,
            max_retry_after: MAX_RETRY_AFTER,
        }
    }
}

impl RetrySchedule {
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }

    /// The wait after the `attempts`-th failed attempt, or `None` when none is left. `unit` is
    /// a random number in `[0, 1)`, so that the core needs no source of randomness.
    pub fn delay_after(&self, attempts: u32, unit: f64) -> Option<Duration> {
        let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
        let base = *self.delays.get(index)?;
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 + jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Some(base.mul_f64(factor.max(0.0)))
    }
}

/// What an attempt's answer means for the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: delivered.
    Delivered,
    /// 410 Gone: the receiver says the endpoint is no more; disable it.
    Gone,
    /// Anything else (3xx included: redirects are never followed): try again, perhaps no
    /// sooner than the receiver asked.
    Retry { not_before: Option<Duration> },
}

/// Judges an HTTP answer. `retry_after` is the header's value, read only on 429 and 503.
pub fn judge(status: u16, retry_after: Option<&str>, now: Timestamp, cap: Duration) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        410 => Verdict::Gone,
        429 | 503 => Verdict::Retry {
            not_before: retry_after
                .and_then(|value| parse_retry_after(value, now))
                .map(|wait| wait.min(cap)),
        },
        _ => Verdict::Retry { not_before: None },
    }
}

/// `Retry-After` as a number of seconds or an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`);
/// a date in the past is no wait.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = PrimitiveDateTime::parse(value, format).ok()?.assume_utc();
    Some(Timestamp::from_offset_date_time(at).duration_since(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_spans_about_a_day_in_ten_attempts() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.max_attempts(), 10);
        let total: Duration = schedule.delays.iter().sum();
        assert!(total > Duration::from_secs(20 * 3600) && total < Duration::from_secs(26 * 3600));
        assert!(
            schedule.delays.windows(2).all(|w| w[0] <= w[1]),
            "never shrinks"
        );
    }

    #[test]
    fn jitter_stays_within_its_bounds_and_the_last_attempt_has_no_retry() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.delay_after(0, 0.5), None);
        assert_eq!(schedule.delay_after(1, 0.5), Some(Duration::from_secs(30)));
        assert_eq!(schedule.delay_after(1, 0.0), Some(Duration::from_secs(24)));
        assert_eq!(schedule.delay_after(1, 1.0), Some(Duration::from_secs(36)));
        assert!(schedule.delay_after(9, 0.3).is_some());
        assert_eq!(schedule.delay_after(10, 0.3), None);
    }

    #[test]
    fn answers_are_judged_and_retry_after_is_read_and_capped() {
        let now = Timestamp::from_unix_millis(784_111_777_000); // 1994-11-06T08:49:37Z
        let cap = Duration::from_secs(3600);
        assert_eq!(judge(204, None, now, cap), Verdict::Delivered);
        assert_eq!(judge(410, None, now, cap), Verdict::Gone);
        assert_eq!(
            judge(307, Some("5"), now, cap),
            Verdict::Retry { not_before: None }
        );
        assert_eq!(
            judge(500, Some("5"), now, cap),
            Verdict::Retry { not_before: None }
        );
        let after = |status, value| match judge(status, Some(value), now, cap) {
            Verdict::Retry { not_before } => not_before,
            other => panic!("{other:?}"),
        };
        assert_eq!(after(429, "120"), Some(Duration::from_secs(120)));
        assert_eq!(after(503, "999999"), Some(cap));
        assert_eq!(
            after(503, "Sun, 06 Nov 1994 08:50:37 GMT"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            after(503, "Sun, 06 Nov 1994 08:00:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(after(429, "soon"), None);
    }
}
