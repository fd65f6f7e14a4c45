//! The malware scanner: one call that reads an upload's bytes and says what it found.
//!
//! The review's `scan` task calls it before anything decodes the file; only
//! [`ScanOutcome::Clean`] lets the upload go on (see `review/scan.rs`). An adapter never
//! turns a failure into `Clean`: a scanner it cannot reach, one that does not answer within
//! its timeout, and an answer it cannot read are all [`ScanOutcome::Error`], so the step
//! fails closed.

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;

/// What a scanner said about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanOutcome {
    /// Nothing found.
    Clean,
    /// A signature matched; `signature` is the scanner's name for it.
    Infected { signature: String },
    /// The scanner cannot scan this file (too large for it, or a format it refuses).
    Unsupported { why: String },
    /// The scan did not happen: unreachable, timed out, or an answer that cannot be read.
    Error { why: String },
}

impl ScanOutcome {
    /// The outcome's stable name, as recorded and as the workflow hears it.
    pub fn kind(&self) -> &'static str {
        match self {
            ScanOutcome::Clean => "clean",
            ScanOutcome::Infected { .. } => "infected",
            ScanOutcome::Unsupported { .. } => "unsupported",
            ScanOutcome::Error { .. } => "error",
        }
    }
}

impl fmt::Display for ScanOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanOutcome::Clean => f.write_str("clean"),
            ScanOutcome::Infected { signature } => write!(f, "infected: {signature}"),
            ScanOutcome::Unsupported { why } => write!(f, "unsupported: {why}"),
            ScanOutcome::Error { why } => write!(f, "error: {why}"),
        }
    }
}

/// A malware scanner (clamd on one machine or over TCP on AWS).
#[async_trait]
pub trait Scanner: Send + Sync {
    /// A short name for logs and the record (`clamd unix:/run/clamd.ctl`).
    fn describe(&self) -> String;

    /// Scans one file's bytes. Never panics and never answers `Clean` for a scan that did
    /// not complete; a timeout is the adapter's to enforce and is `Error`.
    async fn scan(&self, bytes: Bytes) -> ScanOutcome;
}
