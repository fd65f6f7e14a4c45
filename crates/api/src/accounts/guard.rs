//! What guessing costs at `/auth/*`: a rate per client address, a lockout per account, and a
//! rate of emailed codes per address.
//!
//! - **Per address** (GCRA, `governor`): `per_ip_per_minute` sustained, `per_ip_burst` at
//!   once, over every `/auth/*` route. Refused with 429 `too_many_requests`.
//! - **Per account**: `max_failures` wrong passwords or codes within `failure_window` lock
//!   the address for `lockout`, during which even the right password is refused with 429
//!   `too_many_attempts` and `Retry-After`. It is keyed by the normalised address whether or
//!   not an account has it, so the lockout tells nothing about who has an account.
//! - **Codes per address**: sign-up and forgot-password send email; `codes_per_hour` of them
//!   per address, so that nobody can use us to flood someone's inbox.
//!
//! All three live in the process: one `vetted serve` counts everything, while each warm
//! Lambda instance counts on its own. On AWS the WAF's rate rule on `/auth/*` and Cognito's
//! own lockout stand behind them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use vetted_core::accounts::AccountEmail;
use vetted_core::{Clock, Timestamp};

use crate::error::{ApiError, reasons};

/// The client address a host saw, put into the request's extensions by whatever accepted the
/// connection (`vetted serve`'s listener, the Lambda adapter). Requests without one share
/// one allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The limits; the defaults suit a person typing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLimits {
    pub per_ip_per_minute: u32,
    pub per_ip_burst: u32,
    pub max_failures: u32,
    pub failure_window: Duration,
    pub lockout: Duration,
    pub codes_per_hour: u32,
}

impl Default for AuthLimits {
    fn default() -> Self {
        Self {
            per_ip_per_minute: 30,
            per_ip_burst: 20,
            max_failures: 5,
            failure_window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(15 * 60),
            codes_per_hour: 5,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Timestamp,
    locked_until: Option<Timestamp>,
}

/// The three limits, shared by every `/auth/*` request of the process.
pub struct AuthGuard {
    limits: AuthLimits,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    codes: DefaultKeyedRateLimiter<String>,
    rate_clock: DefaultClock,
    /// Lockouts are timed by the API's clock, so tests can move it.
    clock: Arc<dyn Clock>,
    failures: Mutex<HashMap<String, Failures>>,
}

impl std::fmt::Debug for AuthGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthGuard")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Above this many tracked addresses, entries with nothing left to remember are dropped.
const MAX_TRACKED: usize = 10_000;
const UNKNOWN_CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

impl AuthGuard {
    pub fn new(limits: AuthLimits, clock: Arc<dyn Clock>) -> Self {
        let nonzero = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        Self {
            per_ip: RateLimiter::keyed(
                Quota::per_minute(nonzero(limits.per_ip_per_minute))
                    .allow_burst(nonzero(limits.per_ip_burst)),
            ),
            codes: RateLimiter::keyed(
                Quota::per_hour(nonzero(limits.codes_per_hour))
                    .allow_burst(nonzero(limits.codes_per_hour)),
            ),
            rate_clock: DefaultClock::default(),
            clock,
            failures: Mutex::new(HashMap::new()),
            limits,
        }
    }

    /// Takes one request from the client address's allowance.
    pub fn check_client(&self, client: Option<ClientIp>) -> Result<(), ApiError> {
        let ip = client.map_or(UNKNOWN_CLIENT, |c| c.0);
        self.per_ip.check_key(&ip).map_err(|not_until| {
            ApiError::too_many(
                reasons::TOO_MANY_REQUESTS,
                "too many sign-in requests from this address; wait before trying again",
                not_until.wait_time_from(self.rate_clock.now()),
            )
        })?;
        if self.per_ip.len() > MAX_TRACKED {
            self.per_ip.retain_recent();
        }
        Ok(())
    }

    /// Takes one emailed code from the address's allowance.
    pub fn check_code_email(&self, email: &AccountEmail) -> Result<(), ApiError> {
        let key = email.as_str().to_owned();
        self.codes.check_key(&key).map_err(|not_until| {
            ApiError::too_many(
                reasons::TOO_MANY_ATTEMPTS,
                "we have sent this address several codes already; wait before asking again",
                not_until.wait_time_from(self.rate_clock.now()),
            )
        })?;
        if self.codes.len() > MAX_TRACKED {
            self.codes.retain_recent();
        }
        Ok(())
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.failures
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Refuses while the address is locked out.
    pub fn check_account(&self, email: &AccountEmail) -> Result<(), ApiError> {
        let now = self.clock.now();
        let locked_until = self
            .failures()
            .get(email.as_str())
            .and_then(|f| f.locked_until)
            .filter(|until| *until > now);
        match locked_until {
            Some(until) => Err(ApiError::too_many(
                reasons::TOO_MANY_ATTEMPTS,
                "too many wrong attempts for this address; wait before trying again",
                until.duration_since(now),
            )),
            None => Ok(()),
        }
    }

    /// Counts a wrong password or code; the `max_failures`-th within the window locks.
    pub fn record_failure(&self, email: &AccountEmail) {
        let now = self.clock.now();
        let limits = self.limits;
        let mut failures = self.failures();
        if failures.len() > MAX_TRACKED {
            failures.retain(|_, f| {
                f.locked_until.is_some_and(|until| until > now)
                    || now.duration_since(f.since) < limits.failure_window
            });
        }
        let entry = failures
            .entry(email.as_str().to_owned())
            .or_insert(Failures {
                count: 0,
                since: now,
                locked_until: None,
            });
        let lock_over = entry.locked_until.is_some_and(|until| until <= now);
        if lock_over || now.duration_since(entry.since) >= limits.failure_window {
            *entry = Failures {
                count: 0,
                since: now,
                locked_until: None,
            };
        }
        entry.count += 1;
        if entry.count >= limits.max_failures {
            entry.locked_until = Some(now.saturating_add(limits.lockout));
        }
    }

    /// Forgets the address's failures after a success.
    pub fn record_success(&self, email: &AccountEmail) {
        self.failures().remove(email.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vetted_core::time::ManualClock;

    fn guard() -> (AuthGuard, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(1_000_000)));
        (AuthGuard::new(AuthLimits::default(), clock.clone()), clock)
    }

    #[test]
    fn five_failures_lock_the_address_for_the_lockout() {
        let (guard, clock) = guard();
        let ana = AccountEmail::parse("ana@example.com").unwrap();
        for _ in 0..4 {
            guard.record_failure(&ana);
            assert!(guard.check_account(&ana).is_ok());
        }
        guard.record_failure(&ana);
        let refused = guard.check_account(&ana).unwrap_err();
        assert_eq!(refused.retry_after, Some(15 * 60));
        let bob = AccountEmail::parse("bob@example.com").unwrap();
        assert!(
            guard.check_account(&bob).is_ok(),
            "another address is not locked"
        );
        clock.advance(Duration::from_secs(15 * 60));
        assert!(guard.check_account(&ana).is_ok());
        guard.record_failure(&ana);
        assert!(
            guard.check_account(&ana).is_ok(),
            "a lock that ended starts a new count"
        );
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let (guard, clock) = guard();
        let ana = AccountEmail::parse("ana@example.com").unwrap();
        for _ in 0..4 {
            guard.record_failure(&ana);
        }
        clock.advance(Duration::from_secs(16 * 60));
        guard.record_failure(&ana);
        assert!(guard.check_account(&ana).is_ok());
    }

    #[test]
    fn a_success_forgets_the_failures() {
        let (guard, _) = guard();
        let ana = AccountEmail::parse("ana@example.com").unwrap();
        for _ in 0..4 {
            guard.record_failure(&ana);
        }
        guard.record_success(&ana);
        guard.record_failure(&ana);
        assert!(guard.check_account(&ana).is_ok());
    }

    #[test]
    fn the_client_rate_refuses_past_the_burst() {
        let (guard, _) = guard();
        let client = Some(ClientIp("192.0.2.7".parse().unwrap()));
        for _ in 0..AuthLimits::default().per_ip_burst {
            guard.check_client(client).unwrap();
        }
        let refused = guard.check_client(client).unwrap_err();
        assert!(refused.retry_after.is_some());
        guard
            .check_client(Some(ClientIp("192.0.2.8".parse().unwrap())))
            .expect("another address has its own allowance");
    }
}
