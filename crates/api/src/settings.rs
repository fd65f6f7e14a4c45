//! API settings: upload expiry, the intent's grace period, the proxy cap, page sizes.
//!
//! Defaults suit AWS; `VETTED_*` environment variables override them (see
//! [`ApiSettings::with_env`]), and [`ApiSettings::check`] runs at start-up: errors stop the
//! process with a message that names the setting, warnings are logged.

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;
use vetted_core::Policy;
use vetted_core::presign::{self, DEFAULT_EXPIRES_IN};
use vetted_core::settings::{Env, SettingError};

/// Lambda refuses request bodies over 6 MiB, so a proxy upload cannot be larger there.
pub const DEFAULT_PROXY_MAX_BYTES: u64 = 6 * 1024 * 1024;
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
}

/// 30 a minute, 10 at once: an owner filling a gallery by hand never meets it.
pub const DEFAULT_UPLOADS_PER_MINUTE: u32 = 30;
pub const DEFAULT_UPLOAD_BURST: u32 = 10;
/// A gallery's 12 positions at once, and room to spare.
pub const DEFAULT_MAX_OPEN_INTENTS: u32 = 20;

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
    /// `VETTED_PROXY_MAX_BYTES`, `VETTED_UPLOADS_PER_MINUTE`, `VETTED_UPLOAD_BURST` and
    /// `VETTED_MAX_OPEN_INTENTS`; other variables are ignored.
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
    fn impossible_settings_stop_start_up() {
        let policy = Policy::default();
        let zero = ApiSettings::default()
            .with_env(&Env::from_pairs([("VETTED_PRESIGN_EXPIRY_SECONDS", "0")]))
            .unwrap();
        assert!(matches!(zero.check(&policy), Err(SettingsError::Expiry(_))));
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
