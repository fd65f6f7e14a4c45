//! What one user may ask for: a rate of `POST /api/uploads` and a number of open intents.
//!
//! Without them one owner could open hundreds of 20 MiB upload permissions in a second. Both
//! refuse with 429 and `Retry-After`:
//! - `too_many_requests`: the per-user rate (GCRA, `governor`): `uploads_per_minute`
//!   sustained, `upload_burst` at once. It is kept in the process, so each `vetted serve`
//!   (or each warm Lambda instance) counts on its own; on AWS the API's stage throttling
//!   bounds the whole.
//! - `too_many_open_uploads`: the user already holds `max_open_intents` intents not yet
//!   uploaded and not expired. Counted from the store, newest first, so it holds across
//!   processes; `Retry-After` is when the oldest of them expires.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use vetted_core::ports::PageRequest;
use vetted_core::{OwnerId, Status};

use crate::error::{ApiError, reasons};
use crate::{ApiSettings, ApiState};

/// The per-user rate of asking to upload.
pub struct UploadRate {
    limiter: DefaultKeyedRateLimiter<OwnerId>,
    clock: DefaultClock,
}

impl std::fmt::Debug for UploadRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadRate").finish_non_exhaustive()
    }
}

impl UploadRate {
    pub fn new(settings: &ApiSettings) -> Self {
        let per_minute = NonZeroU32::new(settings.uploads_per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.upload_burst).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one request from `owner`'s allowance, or says when there will be one.
    pub fn check(&self, owner: &OwnerId) -> Result<(), ApiError> {
        self.limiter.check_key(owner).map_err(|not_until| {
            ApiError::too_many(
                reasons::TOO_MANY_REQUESTS,
                "too many upload requests; wait before asking again",
                not_until.wait_time_from(self.clock.now()),
            )
        })?;
        // Forget users whose allowance is whole again, so the map does not grow for ever.
        if self.limiter.len() > 10_000 {
            self.limiter.retain_recent();
        }
        Ok(())
    }
}

/// Refuses a new intent while `owner` holds [`ApiSettings::max_open_intents`] open ones.
///
/// Reads the owner's newest records (twice the cap), which hold every intent still open
/// unless the owner has since made that many other requests; so it may let a few more
/// through, never fewer.
pub async fn check_open_intents(state: &ApiState, owner: &OwnerId) -> Result<(), ApiError> {
    let cap = state.settings.max_open_intents;
    let now = state.clock.now();
    let page = state
        .uploads
        .list_by_owner(owner, &PageRequest::first(cap.saturating_mul(2)))
        .await?;
    let mut open: Vec<_> = page
        .items
        .iter()
        .filter(|r| r.status == Status::AwaitingUpload && r.expires_at > now)
        .map(|r| r.expires_at)
        .collect();
    if open.len() < cap as usize {
        return Ok(());
    }
    open.sort();
    let first_free = open
        .first()
        .map_or(Duration::from_secs(1), |at| at.duration_since(now));
    Err(ApiError::too_many(
        reasons::TOO_MANY_OPEN_UPLOADS,
        format!(
            "{} uploads asked for are not sent yet; send or let them expire first (at most {cap})",
            open.len()
        ),
        first_free,
    ))
}
