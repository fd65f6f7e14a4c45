//! `vetted serve`'s settings: a TOML file (`--config`), then environment variables, then
//! defaults. Every value is checked at start-up, and an error names the setting.
//!
//! ```toml
//! review_timeout_seconds = 259200     # 72 h for a moderator to decide
//! review_escalation_percent = [50, 90] # escalate at these shares of it; [] for never
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
//! known_content = "review"            # or "reuse": identical bytes take their earlier decision
//!
//! sanitize_memory_mib = 1024          # shared by every sanitize at once; one waits for room
//!
//! [workers]                           # messages handled at once, per worker
//! intake = 8
//! sanitize = 2
//! review_tasks = 8
//!
//! [[webhooks]]                        # an endpoint made at start if its URL is new
//! url = "https://example.com/vetted"
//! secret = "whsec_…"                  # or 24 to 64 characters, used as the key
//!
//! [webhook_delivery]
//! allow_private_addresses_for_development = false     # development only: http, loopback, private
//! retry_delays_seconds = [30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800]
//!
//! [http]                              # what one slow or idle client may hold
//! header_timeout_seconds = 10         # the whole request head; also how long an idle connection stays
//! body_stall_timeout_seconds = 30     # the longest wait for the next bytes of a request body
//! max_connections = 1024              # open at once; more wait to be accepted
//! [mail]                              # owner emails
//! from = "Vetted <vetted@example.com>"  # the sender; on --backend aws the SES identity
//! public_url = "https://vetted.example" # links in emails; default: the server's URL
//!
//! [mail.smtp]                         # without it, mail goes to {data}/outbox-mail/*.eml
//! host = "smtp.example.com"
//! port = 587                          # default by tls: none 25, starttls 587, tls 465
//! tls = "starttls"                    # none (a local server only), starttls or tls
//! username = "vetted"
//! password = "…"                      # or VETTED_SMTP_PASSWORD
//!
//! [oidc]                              # also accept RS256 tokens from this issuer
//! jwks_url = "https://cognito-idp.eu-west-1.amazonaws.com/POOL/.well-known/jwks.json"
//! issuer = "https://cognito-idp.eu-west-1.amazonaws.com/POOL"
//! audience = "APP_CLIENT_ID"          # optional
//!
//! [metrics]                           # GET /metrics (Prometheus text); off without a token
//! bearer_token = "…"                  # 32+ characters, or VETTED_METRICS_TOKEN
//! ```
//!
//! The dev tokens of `vetted token` (HS256, key in the data directory) are always accepted;
//! `[oidc]` adds an identity provider's tokens, with roles from `cognito:groups`.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use vetted_api::auth::OidcConfig;

use crate::mail::{SmtpSettings, parse_sender};
use vetted_core::notify::PageLinks;
use vetted_core::policy::SlotPolicies;
use vetted_core::review::EscalationShares;
use vetted_core::review::sanitize::budget::DEFAULT_MEMORY_BUDGET;
use vetted_core::settings::Env;
use vetted_core::webhooks::WebhookSecret;
use vetted_core::webhooks::address::check_url;
use vetted_core::webhooks::retry::RetrySchedule;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// The `[policy]` table as written; [`ServeConfig::load`] turns it into `policies`.
    #[serde(rename = "policy")]
    policy_table: toml::Table,
    #[serde(skip)]
    pub policies: SlotPolicies,
    pub review_timeout_seconds: u64,
    /// At which percentages of the review timeout a review still waiting escalates.
    pub review_escalation_percent: Vec<u8>,
    pub presign_expiry_seconds: u64,
    pub workers: Workers,
    /// The memory (MiB) that the sanitize jobs running at once share: each reserves its
    /// estimated need before it reads the image, and waits while the budget is spent.
    pub sanitize_memory_mib: u64,
    /// Endpoints from the settings file: created in the webhook store at start when no
    /// endpoint has their URL (the admin API manages the rest).
    pub webhooks: Vec<Webhook>,
    pub webhook_delivery: WebhookDelivery,
    pub http: HttpLimits,
    /// An OpenID Connect issuer whose RS256 tokens are accepted besides the dev tokens.
    pub oidc: Option<OidcConfig>,
    /// Owner emails: the sender, the links' base URL, and the SMTP server.
    pub mail: MailSettings,
    /// Days after which rejected objects under `quarantine/` are deleted (embedded backend;
    /// on AWS the bucket's lifecycle rule, `QuarantineRetentionDays`, does it). Default 30,
    /// the template's default.
    pub quarantine_retention_days: u64,
    /// `GET /metrics`: who may scrape it.
    pub metrics: MetricsSettings,
    /// `[scan]`: the malware scanner (clamd) and whether unscanned uploads may proceed.
    pub scan: ScanTable,
}

/// `[scan]`: clamd's address (`unix:/path` or `host:port`), how long one scan may take, and
/// whether an upload proceeds unscanned when no scanner is configured. Unset, that last one is
/// yes under `--demo` (or `--allow-unscanned`) and no otherwise: production fails closed.
/// `VETTED_CLAMD`, `VETTED_SCAN_TIMEOUT_SECONDS` and `VETTED_SCAN_ALLOW_SKIPPED` override it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScanTable {
    pub clamd: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub allow_skipped: Option<bool>,
}

impl ScanTable {
    /// The settings in force: the file's, overridden by the environment; `demo` is the
    /// default of `allow_skipped` when neither says.
    pub fn settings(
        &self,
        env: &Env,
        demo: bool,
    ) -> anyhow::Result<vetted_core::review::ScanSettings> {
        use vetted_core::review::scan::{ClamdAddress, DEFAULT_SCAN_TIMEOUT};
        let mut settings =
            vetted_core::review::ScanSettings::from_env(env, self.allow_skipped.unwrap_or(demo))?;
        if settings.clamd.is_none()
            && let Some(raw) = &self.clamd
        {
            let address = raw
                .parse::<ClamdAddress>()
                .map_err(|why| anyhow::anyhow!("[scan] clamd = {raw:?}: {why}"))?;
            settings.clamd = Some(address);
        }
        if env.get("VETTED_SCAN_TIMEOUT_SECONDS").is_none() {
            settings.timeout = match self.timeout_seconds {
                Some(0) => anyhow::bail!("[scan] timeout_seconds must be above 0"),
                Some(seconds) => Duration::from_secs(seconds),
                None => DEFAULT_SCAN_TIMEOUT,
            };
        }
        Ok(settings)
    }
}

/// `[metrics]`: `GET /metrics` answers Prometheus text to a scraper that presents this token
/// as `Authorization: Bearer …`. Without a token the route is not mounted (404): the counts
/// are no secret, but a server reachable from the internet should not hand them to anyone.
#[derive(Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    pub bearer_token: Option<String>,
}

impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// The shortest scrape token accepted: long enough that guessing it is hopeless.
pub const MIN_METRICS_TOKEN_LEN: usize = 32;

/// `[http]`: what one client may hold of the server. A client that sends its request head
/// slowly, stops in the middle of a body or opens connections and sends nothing is closed
/// within these limits, and other clients are answered meanwhile.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpLimits {
    /// The whole request head must arrive within this; it is also how long a kept-alive
    /// connection may wait idle for its next request.
    pub header_timeout_seconds: u64,
    /// A request body that sends nothing for this long is cut off (a stalled upload).
    pub body_stall_timeout_seconds: u64,
    /// Connections open at once; further ones wait in the listen backlog until one closes.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout_seconds: 10,
            body_stall_timeout_seconds: 30,
            max_connections: 1024,
        }
    }
}

impl HttpLimits {
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_seconds)
    }

    pub fn body_stall_timeout(&self) -> Duration {
        Duration::from_secs(self.body_stall_timeout_seconds)
    }
}
/// `[mail]`: where owner emails go and what they say they are from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// The sender, `Name <address>` or an address. Needed with `[mail.smtp]`; on the AWS
    /// backend it is the SES identity, and without it no email is sent there.
    pub from: Option<String>,
    /// The base of the owner-page links in emails; default: the server's public URL.
    pub public_url: Option<String>,
    /// The SMTP server; without it, the embedded backend writes `.eml` files to
    /// `{data}/outbox-mail/`.
    pub smtp: Option<SmtpSettings>,
}

/// The sender when `[mail] from` is not set and mail goes to files.
pub const DEFAULT_FROM: &str = "Vetted <vetted@localhost>";

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workers {
    pub intake: usize,
    pub sanitize: usize,
    pub review_tasks: usize,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub url: String,
    /// `whsec_<base64 key>`, or (as before Standard Webhooks) 24 to 64 characters whose bytes
    /// are the key, which a receiver writes as `whsec_` + their base64.
    pub secret: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    pub fn signing_secret(&self) -> anyhow::Result<WebhookSecret> {
        let parsed = if self.secret.starts_with("whsec_") {
            WebhookSecret::parse(&self.secret)
        } else {
            WebhookSecret::from_key(self.secret.as_bytes())
        };
        parsed.with_context(|| {
            format!(
                "webhook secret for {}: use whsec_ and the base64 of 24 to 64 random bytes",
                self.url
            )
        })
    }
}

/// `[webhook_delivery]`: how deliveries are made.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookDelivery {
    /// For development only: admit `http` and loopback, private and link-local addresses,
    /// which the address guard refuses otherwise (a receiver on this machine, in tests).
    pub allow_private_addresses_for_development: bool,
    /// The waits between attempts; one more attempt than waits. Default: 30 s to 8 h, ten
    /// attempts over about 24 h.
    pub retry_delays_seconds: Option<Vec<u64>>,
}

impl WebhookDelivery {
    pub fn schedule(&self) -> RetrySchedule {
        let mut schedule = RetrySchedule::default();
        if let Some(delays) = &self.retry_delays_seconds {
            schedule.delays = delays.iter().copied().map(Duration::from_secs).collect();
        }
        schedule
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            policy_table: toml::Table::new(),
            policies: SlotPolicies::default(),
            review_timeout_seconds: 72 * 3600,
            review_escalation_percent: EscalationShares::default().percents().to_vec(),
            presign_expiry_seconds: 300,
            workers: Workers::default(),
            sanitize_memory_mib: DEFAULT_MEMORY_BUDGET / (1024 * 1024),
            webhooks: Vec::new(),
            webhook_delivery: WebhookDelivery::default(),
            http: HttpLimits::default(),
            oidc: None,
            mail: MailSettings::default(),
            quarantine_retention_days: 30,
            metrics: MetricsSettings::default(),
            scan: ScanTable::default(),
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
        if let Some(shares) = env.parsed::<EscalationShares>("VETTED_REVIEW_ESCALATION_PERCENT")? {
            config.review_escalation_percent = shares.percents().to_vec();
        }
        if let Some(seconds) = env.parsed("VETTED_PRESIGN_EXPIRY_SECONDS")? {
            config.presign_expiry_seconds = seconds;
        }
        if let (Some(smtp), Some(password)) =
            (config.mail.smtp.as_mut(), env.get("VETTED_SMTP_PASSWORD"))
        {
            smtp.password = Some(password.to_owned());
        }
        if let Some(token) = env.get("VETTED_METRICS_TOKEN") {
            config.metrics.bearer_token = Some(token.to_owned());
        }
        config.check()?;
        Ok(config)
    }

    pub fn review_timeout(&self) -> Duration {
        Duration::from_secs(self.review_timeout_seconds)
    }

    /// The escalation points, checked by [`ServeConfig::load`].
    pub fn review_escalation(&self) -> anyhow::Result<EscalationShares> {
        EscalationShares::new(self.review_escalation_percent.clone())
            .map_err(|why| anyhow::anyhow!("review_escalation_percent: {why}"))
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.sanitize_memory_mib < 64 {
            bail!("sanitize_memory_mib must be at least 64");
        }
        if self.review_timeout_seconds == 0 {
            bail!("review_timeout_seconds must be at least 1");
        }
        self.review_escalation()?;
        if let Some(token) = &self.metrics.bearer_token
            && (token.len() < MIN_METRICS_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()))
        {
            bail!(
                "[metrics] bearer_token (or VETTED_METRICS_TOKEN) must be at least \
                 {MIN_METRICS_TOKEN_LEN} printable ASCII characters without spaces"
            );
        }
        let Workers {
            intake,
            sanitize,
            review_tasks,
        } = self.workers;
        if intake == 0 || sanitize == 0 || review_tasks == 0 {
            bail!("every [workers] count must be at least 1");
        }
        let HttpLimits {
            header_timeout_seconds,
            body_stall_timeout_seconds,
            max_connections,
        } = self.http;
        if header_timeout_seconds == 0 || body_stall_timeout_seconds == 0 || max_connections == 0 {
            bail!("every [http] limit must be at least 1");
        }
        let allow_private = self
            .webhook_delivery
            .allow_private_addresses_for_development;
        for hook in &self.webhooks {
            check_url(&hook.url, allow_private).with_context(|| {
                format!(
                    "[[webhooks]] url {:?} (loopback and private addresses need \
                     [webhook_delivery] allow_private_addresses_for_development = true, for development)",
                    hook.url
                )
            })?;
            hook.signing_secret()?;
        }
        if self
            .webhook_delivery
            .retry_delays_seconds
            .as_ref()
            .is_some_and(|d| d.len() > 50)
        {
            bail!("[webhook_delivery] retry_delays_seconds: at most 50 waits");
        }
        let mail = &self.mail;
        if let Some(from) = &mail.from {
            parse_sender(from).map_err(|e| anyhow::anyhow!("[mail] from: {e}"))?;
        }
        if let Some(url) = &mail.public_url {
            PageLinks::new(url).with_context(|| "[mail] public_url")?;
        }
        if let Some(smtp) = &mail.smtp {
            if mail.from.is_none() {
                bail!("[mail.smtp] needs [mail] from, the sender address");
            }
            if smtp.host.trim().is_empty() {
                bail!("[mail.smtp] host is empty");
            }
            if smtp.username.is_some() != smtp.password.is_some() {
                bail!(
                    "[mail.smtp] username and password go together (the password may come \
                     from VETTED_SMTP_PASSWORD)"
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
    fn escalation_points_default_to_half_and_nine_tenths_and_are_checked() {
        let config = ServeConfig::default();
        assert_eq!(config.review_escalation().unwrap().percents(), [50, 90]);
        let none: ServeConfig = toml::from_str("review_escalation_percent = []\n").unwrap();
        assert!(none.review_escalation().unwrap().percents().is_empty());
        let backwards: ServeConfig =
            toml::from_str("review_escalation_percent = [90, 50]\n").unwrap();
        let refused = format!("{:#}", backwards.check().unwrap_err());
        assert!(refused.contains("review_escalation_percent"), "{refused}");
    }

    #[test]
    fn nonsense_is_refused_with_the_setting_named() {
        let mut config = ServeConfig::default();
        config.webhooks.push(Webhook {
            url: "ftp://x".into(),
            secret: "0123456789abcdef01234567".into(),
        });
        assert!(config.check().unwrap_err().to_string().contains("ftp://x"));
        config.webhooks[0].url = "https://127.0.0.1/hook".into();
        let refused = format!("{:#}", config.check().unwrap_err());
        assert!(refused.contains("loopback"), "{refused}");
        config
            .webhook_delivery
            .allow_private_addresses_for_development = true;
        config.check().unwrap();
        config.webhooks[0].secret = "too short, 23 bytes....".into();
        assert!(format!("{:#}", config.check().unwrap_err()).contains("24 to 64"));
        config.webhooks[0].secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into();
        config.check().unwrap();
        assert!(
            !format!("{config:?}").contains("MfKQ9r8G"),
            "secrets stay out of Debug"
        );
        let config = ServeConfig {
            review_timeout_seconds: 0,
            ..ServeConfig::default()
        };
        assert!(config.check().is_err());
    }

    #[test]
    fn http_limits_default_and_refuse_zero() {
        let config: ServeConfig = toml::from_str("[http]\nheader_timeout_seconds = 2\n").unwrap();
        assert_eq!(config.http.header_timeout(), Duration::from_secs(2));
        assert_eq!(config.http.max_connections, 1024);
        config.check().unwrap();
        let zero: ServeConfig = toml::from_str("[http]\nmax_connections = 0\n").unwrap();
        assert!(zero.check().unwrap_err().to_string().contains("[http]"));
        assert!(toml::from_str::<ServeConfig>("[http]\nidle = 1\n").is_err());
    }

    #[test]
    fn mail_settings_are_read_and_checked_and_the_password_stays_out_of_debug() {
        let config: ServeConfig = toml::from_str(
            "[mail]\nfrom = \"Vetted <v@example.com>\"\npublic_url = \"https://vetted.example\"\n\
             [mail.smtp]\nhost = \"127.0.0.1\"\nport = 2525\ntls = \"none\"\n\
             username = \"u\"\npassword = \"hunter2-secret\"\n",
        )
        .unwrap();
        config.check().unwrap();
        let smtp = config.mail.smtp.as_ref().unwrap();
        assert_eq!(smtp.port(), 2525);
        assert!(!format!("{config:?}").contains("hunter2"), "{config:?}");
        let no_from: ServeConfig =
            toml::from_str("[mail.smtp]\nhost = \"smtp.example.com\"\n").unwrap();
        assert!(format!("{:#}", no_from.check().unwrap_err()).contains("from"));
        let bad_from: ServeConfig = toml::from_str("[mail]\nfrom = \"not an address\"\n").unwrap();
        assert!(format!("{:#}", bad_from.check().unwrap_err()).contains("[mail] from"));
        let bad_url: ServeConfig = toml::from_str("[mail]\npublic_url = \"ftp://x\"\n").unwrap();
        assert!(format!("{:#}", bad_url.check().unwrap_err()).contains("public_url"));
        assert!(
            toml::from_str::<ServeConfig>("[mail.smtp]\nhost = \"x\"\ntls = \"ssl\"\n").is_err()
        );
    }

    #[test]
    fn a_metrics_token_must_be_long_and_plain_and_stays_out_of_debug() {
        let token = "scrape-token-0123456789abcdef0123456789";
        let config: ServeConfig =
            toml::from_str(&format!("[metrics]\nbearer_token = \"{token}\"\n")).unwrap();
        config.check().unwrap();
        assert!(!format!("{config:?}").contains(token));
        for bad in [
            "short",
            "has a space in it 0123456789abcdef",
            "tab\t0123456789abcdef0123456789ab",
        ] {
            let config: ServeConfig =
                toml::from_str(&format!("[metrics]\nbearer_token = \"{bad}\"\n")).unwrap();
            let error = config.check().unwrap_err().to_string();
            assert!(error.contains("bearer_token"), "{bad:?}: {error}");
        }
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
