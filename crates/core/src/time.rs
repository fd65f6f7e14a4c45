//! Instants in UTC with millisecond precision, and the clock that produces them.
//!
//! Stores keep a [`Timestamp`] as integer milliseconds (they sort and compare cheaply);
//! JSON shows it as RFC 3339. Code that needs "now" takes a [`Clock`], so that expiry and
//! timeouts can be tested without waiting.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    unix_millis: i64,
}

impl Timestamp {
    pub fn from_unix_millis(unix_millis: i64) -> Self {
        Self { unix_millis }
    }

    pub fn unix_millis(self) -> i64 {
        self.unix_millis
    }

    pub fn unix_seconds(self) -> i64 {
        self.unix_millis.div_euclid(1000)
    }

    pub fn to_offset_date_time(self) -> OffsetDateTime {
        let nanos = i128::from(self.unix_millis) * 1_000_000;
        OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    pub fn from_offset_date_time(at: OffsetDateTime) -> Self {
        let millis = at.unix_timestamp_nanos() / 1_000_000;
        Self::from_unix_millis(i64::try_from(millis).unwrap_or(i64::MAX))
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn to_rfc3339(self) -> String {
        let at = self.to_offset_date_time();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.millisecond()
        )
    }

    pub fn parse_rfc3339(text: &str) -> Result<Self, time::error::Parse> {
        OffsetDateTime::parse(text, &Rfc3339).map(Self::from_offset_date_time)
    }

    pub fn saturating_add(self, by: Duration) -> Self {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        Self::from_unix_millis(self.unix_millis.saturating_add(millis))
    }

    /// How long after `earlier` this is; zero if it is not after.
    pub fn duration_since(self, earlier: Timestamp) -> Duration {
        let millis = self.unix_millis.saturating_sub(earlier.unix_millis).max(0);
        Duration::from_millis(u64::try_from(millis).unwrap_or(0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

/// Where "now" comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_offset_date_time(OffsetDateTime::now_utc())
    }
}

/// A clock that stands still until told to move; for tests of expiry and timeouts.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|poison| poison.into_inner());
        *now = now.saturating_add(by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_at_millisecond_precision() {
        let at = Timestamp::from_unix_millis(1_700_000_000_123);
        assert_eq!(at.to_rfc3339(), "2023-11-14T22:13:20.123Z");
        assert_eq!(Timestamp::parse_rfc3339(&at.to_rfc3339()).unwrap(), at);
        let json = serde_json::to_string(&at).unwrap();
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), at);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(Timestamp::from_unix_millis(1000));
        assert_eq!(clock.now().unix_millis(), 1000);
        clock.advance(Duration::from_secs(2));
        assert_eq!(clock.now().unix_millis(), 3000);
        assert_eq!(
            clock
                .now()
                .duration_since(Timestamp::from_unix_millis(1000)),
            Duration::from_secs(2)
        );
    }
}
