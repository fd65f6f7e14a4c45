//! The scan task: the workflow's first step runs the upload's bytes (the write intake examined)
//! through the configured malware scanner before anything decodes them, and fails closed.
//!
//! Only `clean` goes on to sanitize. `infected` and `unsupported` reject the upload (the file's
//! doing; `infected`'s signature is kept in the record's `failure`); `error` (unreachable, timed
//! out, unreadable answer) makes it `FAILED` with `scan_failed`, redrivable. With no scanner
//! configured the scan is `skipped`: [`Scanning::allow_skipped`] lets it proceed (the default of
//! `vetted serve --demo`), otherwise it is `FAILED` with `scan_skipped` (the default everywhere
//! else). A scan task that never answers is caught by the workflow (`ScanNoAnswer` in the ASL)
//! and recorded as `scan_failed` by `record_failure`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tracing::info;

use super::tasks::{Step, rejected_answer};
use super::{Review, TaskMessage};
use crate::intake::quarantine;
use crate::ports::{ScanOutcome, Scanner};
use crate::reason::ReasonCode;
use crate::record::UploadRecord;
use crate::service::StepError;
use crate::settings::{Env, SettingError};
use crate::status::Status;

/// The error name the ASL's `ScanNoAnswer` state gives a scan task that timed out on every
/// attempt; `record_failure` records it as `scan_failed`.
pub const SCAN_NO_ANSWER: &str = "Vetted.ScanNoAnswer";

/// The scanner the review uses, if any, and whether an unscanned upload may proceed.
#[derive(Clone)]
pub struct Scanning {
    pub scanner: Option<Arc<dyn Scanner>>,
    /// Whether an upload goes on when no scanner is configured (`skipped`).
    pub allow_skipped: bool,
}

impl Scanning {
    /// No scanner; `allow_skipped` decides whether uploads proceed unscanned.
    pub fn without_scanner(allow_skipped: bool) -> Self {
        Self {
            scanner: None,
            allow_skipped,
        }
    }

    /// Scans every upload with `scanner`.
    pub fn with(scanner: Arc<dyn Scanner>) -> Self {
        Self {
            scanner: Some(scanner),
            allow_skipped: false,
        }
    }
}

impl std::fmt::Debug for Scanning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanning")
            .field("scanner", &self.scanner.as_ref().map(|s| s.describe()))
            .field("allow_skipped", &self.allow_skipped)
            .finish()
    }
}

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdAddress {
    /// A Unix socket (clamd's `LocalSocket`).
    Unix(std::path::PathBuf),
    /// `host:port` (clamd's `TCPSocket`/`TCPAddr`).
    Tcp(String),
}

impl std::str::FromStr for ClamdAddress {
    type Err = String;
    /// `unix:/path`, a path starting with `/`, or `tcp:host:port` / `host:port`.
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("unix:") {
            return Ok(ClamdAddress::Unix(path.into()));
        }
        if s.starts_with('/') {
            return Ok(ClamdAddress::Unix(s.into()));
        }
        let tcp = s.strip_prefix("tcp:").unwrap_or(s);
        match tcp.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(ClamdAddress::Tcp(tcp.to_owned()))
            }
            _ => Err("expected unix:/path/to/clamd.sock or host:port".to_owned()),
        }
    }
}

impl std::fmt::Display for ClamdAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClamdAddress::Unix(path) => write!(f, "unix:{}", path.display()),
            ClamdAddress::Tcp(addr) => write!(f, "tcp:{addr}"),
        }
    }
}

/// The scan settings, from a settings file or the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSettings {
    /// clamd's address; `None`: no scanner (`skipped`).
    pub clamd: Option<ClamdAddress>,
    /// How long one scan may take, connect to last byte of the answer; past it: `error`.
    pub timeout: Duration,
    /// Whether an unscanned upload proceeds when no scanner is configured.
    pub allow_skipped: bool,
}

/// The default time one scan may take.
pub const DEFAULT_SCAN_TIMEOUT: Duration = Duration::from_secs(60);

impl ScanSettings {
    /// `VETTED_CLAMD` (`unix:/path` or `host:port`), `VETTED_SCAN_TIMEOUT_SECONDS` (60) and
    /// `VETTED_SCAN_ALLOW_SKIPPED` (`true`/`false`; `allow_skipped_default` when unset).
    pub fn from_env(env: &Env, allow_skipped_default: bool) -> Result<Self, SettingError> {
        let timeout = env.seconds_or("VETTED_SCAN_TIMEOUT_SECONDS", DEFAULT_SCAN_TIMEOUT)?;
        if timeout.is_zero() {
            return Err(SettingError::invalid(
                "VETTED_SCAN_TIMEOUT_SECONDS",
                "0",
                "a scan needs some time",
            ));
        }
        Ok(Self {
            clamd: env.parsed("VETTED_CLAMD")?,
            timeout,
            allow_skipped: env.parsed_or("VETTED_SCAN_ALLOW_SKIPPED", allow_skipped_default)?,
        })
    }
}

impl Review {
    pub(super) async fn scan_step(&self, message: &TaskMessage) -> Result<Step, StepError> {
        let record = self.get(&message.upload_id).await?;
        match record.status {
            Status::Received => {}
            Status::Rejected => {
                // An earlier attempt may have died between the verdict and the quarantine.
                self.lifecycle().announce(&record).await?;
                quarantine(self.objects(), &record).await?;
                return Ok(Step::Answer(rejected_answer(record.reason)));
            }
            Status::Withdrawn => {
                let answer = json!({ "verdict": "withdrawn" });
                return self.end_withdrawn(&record, answer).await;
            }
            other => return Ok(Step::Fail(format!("upload is {other}, not RECEIVED"))),
        }
        let Some(scanner) = self.scanning.scanner.clone() else {
            if self.scanning.allow_skipped {
                info!("no scanner is configured; the upload proceeds unscanned (skipped)");
                return Ok(Step::Answer(
                    json!({ "verdict": "clean", "scan": "skipped" }),
                ));
            }
            let why = "no scanner is configured and unscanned uploads may not proceed";
            return self.fail_scan(&record, ReasonCode::ScanSkipped, why).await;
        };
        let bytes = match self.examined_bytes(&record).await? {
            Ok(bytes) => bytes,
            Err(step) => return Ok(step),
        };
        let outcome = scanner.scan(bytes).await;
        info!(scanner = %scanner.describe(), %outcome, "scanned");
        match outcome {
            ScanOutcome::Clean => Ok(Step::Answer(json!({ "verdict": "clean", "scan": "clean" }))),
            ScanOutcome::Infected { .. } => {
                self.reject_scan(&record, ReasonCode::Infected, &outcome)
                    .await
            }
            ScanOutcome::Unsupported { .. } => {
                self.reject_scan(&record, ReasonCode::ScanUnsupported, &outcome)
                    .await
            }
            ScanOutcome::Error { why } => {
                let why = format!("scan error ({}): {why}", scanner.describe());
                self.fail_scan(&record, ReasonCode::ScanFailed, &why).await
            }
        }
    }

    /// `REJECTED` with the reason, the scanner's finding kept in `failure`.
    async fn reject_scan(
        &self,
        record: &UploadRecord,
        reason: ReasonCode,
        outcome: &ScanOutcome,
    ) -> Result<Step, StepError> {
        let failure = Some(format!("scan: {outcome}"));
        self.reject(record, reason, failure, "the scan refused the upload")
            .await
    }

    /// `FAILED` with the reason (not the uploader's fault; redrivable); the workflow then hears
    /// a permanent failure, whose `RecordFailure` finds the record `FAILED` and keeps it.
    async fn fail_scan(
        &self,
        record: &UploadRecord,
        reason: ReasonCode,
        why: &str,
    ) -> Result<Step, StepError> {
        let cause = format!("{reason}: {why}");
        self.fail(
            record,
            reason,
            why.to_owned(),
            cause,
            "the upload was not scanned",
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamd_addresses_parse_and_bad_ones_say_why() {
        assert_eq!(
            "unix:/run/clamd.ctl".parse(),
            Ok(ClamdAddress::Unix("/run/clamd.ctl".into()))
        );
        assert_eq!(
            "/tmp/c.sock".parse(),
            Ok(ClamdAddress::Unix("/tmp/c.sock".into()))
        );
        assert_eq!(
            "tcp:scanner.internal:3310".parse(),
            Ok(ClamdAddress::Tcp("scanner.internal:3310".into()))
        );
        assert_eq!(
            "127.0.0.1:3310".parse(),
            Ok(ClamdAddress::Tcp("127.0.0.1:3310".into()))
        );
        for bad in ["clamd", "host:", ":3310", "host:99999"] {
            assert!(bad.parse::<ClamdAddress>().is_err(), "{bad}");
        }
    }

    #[test]
    fn production_refuses_skipped_unless_told_and_the_timeout_is_read() {
        let env = Env::from_pairs([("VETTED_SCAN_TIMEOUT_SECONDS", "5")]);
        let settings = ScanSettings::from_env(&env, false).unwrap();
        assert!(!settings.allow_skipped);
        assert_eq!(settings.timeout, Duration::from_secs(5));
        assert_eq!(settings.clamd, None);
        let env = Env::from_pairs([
            ("VETTED_SCAN_ALLOW_SKIPPED", "true"),
            ("VETTED_CLAMD", "unix:/s"),
        ]);
        let settings = ScanSettings::from_env(&env, false).unwrap();
        assert!(settings.allow_skipped);
        assert_eq!(settings.clamd, Some(ClamdAddress::Unix("/s".into())));
        let bad = Env::from_pairs([("VETTED_CLAMD", "nonsense")]);
        let err = ScanSettings::from_env(&bad, false).unwrap_err().to_string();
        assert!(err.contains("VETTED_CLAMD"), "{err}");
        let zero = Env::from_pairs([("VETTED_SCAN_TIMEOUT_SECONDS", "0")]);
        assert!(ScanSettings::from_env(&zero, true).is_err());
    }
}
