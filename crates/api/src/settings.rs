//! API settings: upload expiry, the intent's grace period, the proxy cap, page sizes.
//!
//! Defaults suit AWS, but for the proxy cap, which the upload-api Lambda lowers to
//! [`LAMBDA_PROXY_MAX_BYTES`] (see [`ApiSettings::checked_for_lambda`]); `VETTED_*`
//! environment variables override them (see
//! [`ApiSettings::with_env`]), and [`ApiSettings::check`] runs at start-up: errors stop the
//! process with a message that names the setting, warnings are logged.

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;
use vetted_core::Policy;
use vetted_core::ports::{MAX_PART_BYTES, MIN_PART_BYTES};
use vetted_core::presign::{self, DEFAULT_EXPIRES_IN};
use vetted_core::settings::{Env, SettingError};

/// The largest proxy upload unless set otherwise: `vetted serve`'s limit, which no gateway
/// bounds. The upload-api Lambda lowers it to [`LAMBDA_PROXY_MAX_BYTES`].
pub const DEFAULT_PROXY_MAX_BYTES: u64 = 6 * 1024 * 1024;
/// The most a synchronous Lambda invocation's request may carry: "6 MB", 6,291,456 bytes.
pub const LAMBDA_INVOKE_PAYLOAD_BYTES: u64 = 6 * 1024 * 1024;
/// What API Gateway's event (payload format 2.0) holds besides the body: the headers (an HTTP
/// API takes at most 10 KiB of them), the request context with the JWT claims the authorizer
/// copies in, the path, the query string and the cookies. 64 KiB is several times what a real
/// proxy upload's event carries.
pub const LAMBDA_EVENT_ENVELOPE_BYTES: u64 = 64 * 1024;
/// The largest proxy upload on Lambda. API Gateway hands a binary body to Lambda
/// base64-encoded (4 bytes for every 3, the last group padded) inside the event's JSON, so the
/// body may take the payload limit less the envelope, times 3/4:
/// floor((6,291,456 − 65,536) × 3 / 4) = floor(6,225,920 × 3 / 4) = 4,669,440 bytes (about
/// 4.45 MiB), whose base64 is exactly 6,225,920 bytes. A larger body fails the invocation, and
/// the client would see API Gateway's error rather than ours; so the API refuses a proxy
/// upload past this cap when it is asked for (413 `too_large_for_proxy`), before any body.
pub const LAMBDA_PROXY_MAX_BYTES: u64 =
    (LAMBDA_INVOKE_PAYLOAD_BYTES - LAMBDA_EVENT_ENVELOPE_BYTES) * 3 / 4;
/// How long after its presigned URL expires an intent still accepts the upload: an upload that
/// started just before expiry may finish (and be notified) a little after it.
pub const DEFAULT_INTENT_GRACE: Duration = Duration::from_secs(60);
pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    /// How long a presigned POST or PUT (and a proxy upload's permission) is valid.
    pub presign_expires_in: Duration,
    /// Added to the presign expiry to give the intent's `expires_at`.
    pub intent_grace: Duration,
    /// The largest proxy upload (`PUT /api/uploads/{id}/content`).
    pub proxy_max_bytes: u64,
    pub default_page_size: u32,
    /// Where proxy uploads are spooled before they go to the object store; the system's
    /// temporary directory when `None`.
    pub temp_dir: Option<PathBuf>,
    /// How often one user may ask to upload (`POST /api/uploads`), sustained, per minute;
    /// [`Self::upload_burst`] more may come at once.
    pub uploads_per_minute: u32,
    pub upload_burst: u32,
    /// Intents one user may hold open (asked for, not yet uploaded, not expired). Counted in
    /// the user's newest 100 records at most, so a cap above 50 is kept only roughly, and a
    /// cap above 100 is none.
    pub max_open_intents: u32,
    /// A multipart upload's part size: the owner page sends a file larger than one part in
    /// parts (`method: "multipart"`). 5 MiB (S3's smallest part) to 5 GiB.
    pub multipart_part_bytes: u64,
    /// How long a multipart intent stays open, for an upload resumed after a reload or a lost
    /// connection: its parts' URLs are signed for [`Self::presign_expires_in`] each time they
    /// are asked for. At most 7 days.
    pub multipart_expires_in: Duration,
}

/// 30 a minute, 10 at once: an owner filling a gallery by hand never meets it.
pub const DEFAULT_UPLOADS_PER_MINUTE: u32 = 30;
pub const DEFAULT_UPLOAD_BURST: u32 = 10;
/// A gallery's 12 positions at once, and room to spare.
pub const DEFAULT_MAX_OPEN_INTENTS: u32 = 20;
/// 8 MiB parts: a 20 MiB photo in three, each a short retry on a mobile connection.
pub const DEFAULT_MULTIPART_PART_BYTES: u64 = 8 * 1024 * 1024;
/// A day to finish a resumable upload; the bucket's lifecycle rule and `vetted serve`'s
/// maintenance abort what is left after that (see `docs/ARCHITECTURE.md`).
pub const DEFAULT_MULTIPART_EXPIRES_IN: Duration = Duration::from_secs(24 * 3600);

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            presign_expires_in: DEFAULT_EXPIRES_IN,
            intent_grace: DEFAULT_INTENT_GRACE,
            proxy_max_bytes: DEFAULT_PROXY_MAX_BYTES,
            default_page_size: DEFAULT_PAGE_SIZE,
            temp_dir: None,
            uploads_per_minute: DEFAULT_UPLOADS_PER_MINUTE,
            upload_burst: DEFAULT_UPLOAD_BURST,
            max_open_intents: DEFAULT_MAX_OPEN_INTENTS,
            multipart_part_bytes: DEFAULT_MULTIPART_PART_BYTES,
            multipart_expires_in: DEFAULT_MULTIPART_EXPIRES_IN,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SettingsError {
    #[error(transparent)]
    Setting(#[from] SettingError),
    #[error("upload expiry: {0}")]
    Expiry(#[from] presign::PresignError),
    #[error("{0}")]
    Invalid(String),
}

impl ApiSettings {
    /// Overrides from `VETTED_PRESIGN_EXPIRY_SECONDS`, `VETTED_INTENT_GRACE_SECONDS`,
    /// `VETTED_PROXY_MAX_BYTES`, `VETTED_UPLOADS_PER_MINUTE`, `VETTED_UPLOAD_BURST`,
    /// `VETTED_MAX_OPEN_INTENTS`, `VETTED_MULTIPART_PART_BYTES` and
    /// `VETTED_MULTIPART_EXPIRY_SECONDS`; other variables are ignored.
    pub fn with_env(mut self, env: &Env) -> Result<Self, SettingsError> {
        if let Some(expiry) = env.seconds("VETTED_PRESIGN_EXPIRY_SECONDS")? {
            self.presign_expires_in = expiry;
        }
        if let Some(grace) = env.seconds("VETTED_INTENT_GRACE_SECONDS")? {
            self.intent_grace = grace;
        }
        self.proxy_max_bytes = env.parsed_or("VETTED_PROXY_MAX_BYTES", self.proxy_max_bytes)?;
        self.uploads_per_minute =
            env.parsed_or("VETTED_UPLOADS_PER_MINUTE", self.uploads_per_minute)?;
        self.upload_burst = env.parsed_or("VETTED_UPLOAD_BURST", self.upload_burst)?;
        self.max_open_intents = env.parsed_or("VETTED_MAX_OPEN_INTENTS", self.max_open_intents)?;
        self.multipart_part_bytes =
            env.parsed_or("VETTED_MULTIPART_PART_BYTES", self.multipart_part_bytes)?;
        if let Some(expiry) = env.seconds("VETTED_MULTIPART_EXPIRY_SECONDS")? {
            self.multipart_expires_in = expiry;
        }
        Ok(self)
    }

    /// For the upload-api Lambda: refuses a proxy cap above [`LAMBDA_PROXY_MAX_BYTES`] (a
    /// `VETTED_PROXY_MAX_BYTES` set too high), since a body past it cannot reach the function,
    /// and the API could not answer it.
    pub fn checked_for_lambda(self) -> Result<Self, SettingsError> {
        if self.proxy_max_bytes > LAMBDA_PROXY_MAX_BYTES {
            return Err(SettingsError::Invalid(format!(
                "VETTED_PROXY_MAX_BYTES={} is above {LAMBDA_PROXY_MAX_BYTES}, the largest proxy \
                 upload whose base64-encoded body fits in a Lambda invocation",
                self.proxy_max_bytes
            )));
        }
        Ok(self)
    }

    /// Start-up checks. Returns the warnings to log.
    pub fn check(&self, policy: &Policy) -> Result<Vec<String>, SettingsError> {
        let mut warnings = Vec::new();
        if let Some(warning) = presign::check_expires_in(self.presign_expires_in)? {
            warnings.push(warning);
        }
        if self.proxy_max_bytes == 0 {
            return Err(SettingsError::Invalid(
                "proxy_max_bytes is 0: no proxy upload could succeed".to_owned(),
            ));
        }
        if self.uploads_per_minute == 0 || self.upload_burst == 0 || self.max_open_intents == 0 {
            return Err(SettingsError::Invalid(
                "uploads_per_minute, upload_burst and max_open_intents must be at least 1"
                    .to_owned(),
            ));
        }
        if !(MIN_PART_BYTES..=MAX_PART_BYTES).contains(&self.multipart_part_bytes) {
            return Err(SettingsError::Invalid(format!(
                "multipart_part_bytes is {}: S3 takes parts of {MIN_PART_BYTES} to \
                 {MAX_PART_BYTES} bytes",
                self.multipart_part_bytes
            )));
        }
        if self.multipart_expires_in < self.presign_expires_in
            || self.multipart_expires_in > presign::MAX_EXPIRES_IN
        {
            return Err(SettingsError::Invalid(format!(
                "multipart_expires_in is {}s: it must be at least the presign expiry ({}s) and \
                 at most 7 days",
                self.multipart_expires_in.as_secs(),
                self.presign_expires_in.as_secs()
            )));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.default_page_size) {
            return Err(SettingsError::Invalid(format!(
                "default_page_size must be 1 to {MAX_PAGE_SIZE}"
            )));
        }
        if policy.min_bytes > self.proxy_max_bytes {
            warnings.push(format!(
                "proxy uploads are capped at {} bytes, below the policy's minimum of {}: \
                 every proxy upload will be refused",
                self.proxy_max_bytes, policy.min_bytes
            ));
        }
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_short_expiries_warn() {
        let policy = Policy::default();
        assert_eq!(ApiSettings::default().check(&policy), Ok(vec![]));
        let short = ApiSettings::default()
            .with_env(&Env::from_pairs([("VETTED_PRESIGN_EXPIRY_SECONDS", "30")]))
            .unwrap();
        let warnings = short.check(&policy).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("clock"), "{warnings:?}");
    }

    #[test]
    fn the_lambda_proxy_cap_leaves_room_for_base64_and_the_envelope() {
        assert_eq!(LAMBDA_PROXY_MAX_BYTES, 4_669_440);
        let base64_len = |n: u64| n.div_ceil(3) * 4;
        assert!(
            base64_len(LAMBDA_PROXY_MAX_BYTES) + LAMBDA_EVENT_ENVELOPE_BYTES
                <= LAMBDA_INVOKE_PAYLOAD_BYTES
        );
        assert!(
            base64_len(LAMBDA_PROXY_MAX_BYTES + 3) + LAMBDA_EVENT_ENVELOPE_BYTES
                > LAMBDA_INVOKE_PAYLOAD_BYTES,
            "the cap is the largest that fits, not less"
        );
        let lambda = ApiSettings {
            proxy_max_bytes: LAMBDA_PROXY_MAX_BYTES,
            ..ApiSettings::default()
        };
        assert!(lambda.clone().checked_for_lambda().is_ok());
        let too_high = lambda
            .with_env(&Env::from_pairs([("VETTED_PROXY_MAX_BYTES", "6291456")]))
            .unwrap()
            .checked_for_lambda()
            .unwrap_err();
        assert!(
            too_high
                .to_string()
                .starts_with("VETTED_PROXY_MAX_BYTES=6291456 is above 4669440"),
            "{too_high}"
        );
    }

    #[test]
    fn impossible_settings_stop_start_up() {
        let policy = Policy::default();
        let zero = ApiSettings::default()
            .with_env(&Env::from_pairs([("VETTED_PRESIGN_EXPIRY_SECONDS", "0")]))
            .unwrap();
        assert!(matches!(zero.check(&policy), Err(SettingsError::Expiry(_))));
        for (name, value) in [
            ("VETTED_MULTIPART_PART_BYTES", "1048576"),
            ("VETTED_MULTIPART_EXPIRY_SECONDS", "60"),
            ("VETTED_MULTIPART_EXPIRY_SECONDS", "700000"),
        ] {
            let settings = ApiSettings::default()
                .with_env(&Env::from_pairs([(name, value)]))
                .unwrap();
            assert!(
                matches!(settings.check(&policy), Err(SettingsError::Invalid(_))),
                "{name}={value}"
            );
        }
        let err = ApiSettings::default()
            .with_env(&Env::from_pairs([("VETTED_PROXY_MAX_BYTES", "lots")]))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("environment variable VETTED_PROXY_MAX_BYTES="),
            "{err}"
        );
    }
}
