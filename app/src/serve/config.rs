//! `vetted serve`'s settings: a TOML file (`--config`), then environment variables, then
//! defaults. Every value is checked at start-up, and an error names the setting.
//!
//! ```toml
//! review_timeout_seconds = 259200     # 72 h for a moderator to decide
//! presign_expiry_seconds = 300        # how long an upload permission lasts
//!
//! [policy]                            # every slot kind; see `vetted inspect --help`
//! max_bytes = 10485760
//! gallery_positions = 12              # gallery-1 … gallery-12
//!
//! [policy.logo]                       # one kind: logo, cover or gallery
//! min_side = 512
//! min_aspect = "1:1"
//! max_aspect = "4:1"
//!
//! sanitize_memory_mib = 1024          # shared by every sanitize at once; one waits for room
//!
//! [workers]                           # messages handled at once, per worker
//! intake = 8
//! sanitize = 2
//! review_tasks = 8
//!
//! [[webhooks]]                        # every event is POSTed here, signed
//! url = "https://example.com/vetted"
//! secret = "a long random string"
//!
//! [oidc]                              # also accept RS256 tokens from this issuer
//! jwks_url = "https://cognito-idp.eu-west-1.amazonaws.com/POOL/.well-known/jwks.json"
//! issuer = "https://cognito-idp.eu-west-1.amazonaws.com/POOL"
//! audience = "APP_CLIENT_ID"          # optional
//! ```
//!
//! The dev tokens of `vetted token` (HS256, key in the data directory) are always accepted;
//! `[oidc]` adds an identity provider's tokens, with roles from `cognito:groups`.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use vetted_api::auth::OidcConfig;
use vetted_core::policy::SlotPolicies;
use vetted_core::review::sanitize::budget::DEFAULT_MEMORY_BUDGET;
use vetted_core::settings::Env;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// The `[policy]` table as written; [`ServeConfig::load`] turns it into `policies`.
    #[serde(rename = "policy")]
    policy_table: toml::Table,
    #[serde(skip)]
    pub policies: SlotPolicies,
    pub review_timeout_seconds: u64,
    pub presign_expiry_seconds: u64,
    pub workers: Workers,
    /// The memory (MiB) that the sanitize jobs running at once share: each reserves its
    /// estimated need before it reads the image, and waits while the budget is spent.
    pub sanitize_memory_mib: u64,
    pub webhooks: Vec<Webhook>,
    /// An OpenID Connect issuer whose RS256 tokens are accepted besides the dev tokens.
    pub oidc: Option<OidcConfig>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workers {
    pub intake: usize,
    pub sanitize: usize,
    pub review_tasks: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub url: String,
    /// Signs each delivery: `X-Vetted-Signature: sha256=<hex HMAC of the body>`.
    pub secret: String,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            policy_table: toml::Table::new(),
            policies: SlotPolicies::default(),
            review_timeout_seconds: 72 * 3600,
            presign_expiry_seconds: 300,
            workers: Workers::default(),
            sanitize_memory_mib: DEFAULT_MEMORY_BUDGET / (1024 * 1024),
            webhooks: Vec::new(),
            oidc: None,
        }
    }
}

impl Default for Workers {
    fn default() -> Self {
        // Sanitize decodes whole images; more of them at once than cores only adds memory.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            intake: 16,
            sanitize: cores,
            review_tasks: 16,
        }
    }
}

impl ServeConfig {
    /// The file's settings (or the defaults), overridden by `VETTED_POLICY_*`,
    /// `VETTED_REVIEW_TIMEOUT_SECONDS` and `VETTED_PRESIGN_EXPIRY_SECONDS`.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut config: ServeConfig = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("in {}", path.display()))?
            }
            None => ServeConfig::default(),
        };
        let env = Env::from_process();
        config.policies = SlotPolicies::from_table(std::mem::take(&mut config.policy_table))
            .and_then(|policies| policies.with_env(&env))
            .context("policy settings")?;
        if let Some(seconds) = env.parsed("VETTED_REVIEW_TIMEOUT_SECONDS")? {
            config.review_timeout_seconds = seconds;
        }
        if let Some(seconds) = env.parsed("VETTED_PRESIGN_EXPIRY_SECONDS")? {
            config.presign_expiry_seconds = seconds;
        }
        config.check()?;
        Ok(config)
    }

    pub fn review_timeout(&self) -> Duration {
        Duration::from_secs(self.review_timeout_seconds)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.sanitize_memory_mib < 64 {
            bail!("sanitize_memory_mib must be at least 64");
        }
        if self.review_timeout_seconds == 0 {
            bail!("review_timeout_seconds must be at least 1");
        }
        let Workers {
            intake,
            sanitize,
            review_tasks,
        } = self.workers;
        if intake == 0 || sanitize == 0 || review_tasks == 0 {
            bail!("every [workers] count must be at least 1");
        }
        for hook in &self.webhooks {
            if !(hook.url.starts_with("http://") || hook.url.starts_with("https://")) {
                bail!("webhook url {:?} is not an http(s) URL", hook.url);
            }
            if hook.secret.len() < 16 {
                bail!(
                    "webhook secret for {} is shorter than 16 characters",
                    hook.url
                );
            }
        }
        if let Some(oidc) = &self.oidc {
            if !oidc.jwks_url.starts_with("https://") && !oidc.jwks_url.starts_with("http://") {
                bail!("[oidc] jwks_url {:?} is not an http(s) URL", oidc.jwks_url);
            }
            if oidc.issuer.trim().is_empty() {
                bail!("[oidc] issuer is empty: set it to the exact `iss` of the tokens");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_overrides_defaults_and_typos_are_errors() {
        let config: ServeConfig =
            toml::from_str("review_timeout_seconds = 60\n[workers]\nsanitize = 1\n").unwrap();
        assert_eq!(config.review_timeout_seconds, 60);
        assert_eq!(config.workers.sanitize, 1);
        assert_eq!(config.workers.intake, 16);
        assert!(toml::from_str::<ServeConfig>("review_timeout = 60").is_err());
    }

    #[test]
    fn nonsense_is_refused_with_the_setting_named() {
        let mut config = ServeConfig::default();
        config.webhooks.push(Webhook {
            url: "ftp://x".into(),
            secret: "0123456789abcdef".into(),
        });
        assert!(config.check().unwrap_err().to_string().contains("ftp://x"));
        let config = ServeConfig {
            review_timeout_seconds: 0,
            ..ServeConfig::default()
        };
        assert!(config.check().is_err());
    }

    #[test]
    fn an_oidc_issuer_is_read_and_checked() {
        let config: ServeConfig = toml::from_str(
            "[oidc]\njwks_url = \"https://idp.example/jwks.json\"\nissuer = \"https://idp.example\"\n",
        )
        .unwrap();
        config.check().unwrap();
        let oidc = config.oidc.unwrap();
        assert_eq!(oidc.issuer, "https://idp.example");
        assert_eq!(oidc.audience, None);
        let wrong: ServeConfig =
            toml::from_str("[oidc]\njwks_url = \"file:///etc/keys\"\nissuer = \"x\"\n").unwrap();
        assert!(wrong.check().unwrap_err().to_string().contains("jwks_url"));
        assert!(toml::from_str::<ServeConfig>("[oidc]\nissuer = \"x\"\n").is_err());
    }
}
