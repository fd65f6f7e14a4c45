//! Stable reason codes: why an upload was refused, expired or failed.
//!
//! These strings are a public contract. They appear in API answers, on the record, in events
//! and in `vetted inspect --json`, so integrations may switch on them. Add a code only when no
//! existing one is true; never rename one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReasonCode {
    /// The object has no bytes.
    Empty,
    /// The object is smaller than the policy's minimum size (only when that minimum is above 1 B).
    TooSmall,
    /// The object ends before its header does.
    Truncated,
    /// The bytes are not one of the allowed image types, whatever the name or declared type says.
    TypeNotAllowed,
    /// The bytes are an allowed type, but not the one that was declared.
    TypeMismatch,
    /// The object is larger than the policy's maximum size.
    TooLarge,
    /// A side, or the pixel count, is above the policy's maximum.
    TooLargeDimensions,
    /// A side is below the policy's minimum.
    TooSmallDimensions,
    /// The width-to-height ratio is outside the slot's range.
    WrongAspectRatio,
    /// The header, or the image data, is malformed.
    Corrupt,
    /// The dimensions lie further into the file than the gate may read.
    HeaderTooDeep,
    /// The upload did not arrive before its intent expired (late, or never).
    IntentExpired,
    /// No moderator decided before the review timed out.
    ReviewTimedOut,
    /// Processing failed after every retry; operators can redrive it.
    ProcessingFailed,
    /// The re-encoded copy would be larger than the policy's maximum size, even at the
    /// lowest quality tried. The upload is `FAILED` (not the uploader's fault: the file they
    /// sent was within the limit), so operators can raise the limit and redrive it.
    ReencodedTooLarge,
    /// The uploaded file was written again after intake examined it, and the examined bytes
    /// can no longer be read (a store that keeps only the latest write): nothing that was not
    /// examined is ever published, so the upload is refused.
    ObjectReplaced,
    /// The store reports a SHA-256 for the file other than the one the client pinned when it
    /// asked for the upload. A store that verifies pinned checksums (S3, the embedded
    /// endpoint) refuses such a body before it is stored, so this means the store did not:
    /// the file is refused rather than trusted.
    ChecksumMismatch,
    /// The content's SHA-256 is on the banned list an admin keeps (`/api/admin/banned`): these
    /// exact bytes are refused before any moderator sees them, whatever the slot's policy says.
    BannedContent,
    /// The malware scanner found a signature in the file (`REJECTED`; the record's `failure`
    /// names the signature).
    Infected,
    /// The malware scanner cannot scan this file, for example one larger than it accepts
    /// (`REJECTED`: an unscanned file is never published).
    ScanUnsupported,
    /// The scan did not complete: the scanner could not be reached, did not answer in time,
    /// or the scan task never answered (`FAILED`, not the uploader's fault; redrivable).
    ScanFailed,
    /// No scanner is configured and the settings do not let unscanned files proceed
    /// (`FAILED`, redrivable once a scanner is configured).
    ScanSkipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown reason code {0:?}")]
pub struct UnknownReason(pub String);

impl ReasonCode {
    pub const ALL: [ReasonCode; 22] = [
        ReasonCode::Empty,
        ReasonCode::TooSmall,
        ReasonCode::Truncated,
        ReasonCode::TypeNotAllowed,
        ReasonCode::TypeMismatch,
        ReasonCode::TooLarge,
        ReasonCode::TooLargeDimensions,
        ReasonCode::TooSmallDimensions,
        ReasonCode::WrongAspectRatio,
        ReasonCode::Corrupt,
        ReasonCode::HeaderTooDeep,
        ReasonCode::IntentExpired,
        ReasonCode::ReviewTimedOut,
        ReasonCode::ProcessingFailed,
        ReasonCode::ReencodedTooLarge,
        ReasonCode::ObjectReplaced,
        ReasonCode::ChecksumMismatch,
        ReasonCode::BannedContent,
        ReasonCode::Infected,
        ReasonCode::ScanUnsupported,
        ReasonCode::ScanFailed,
        ReasonCode::ScanSkipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::Empty => "empty",
            ReasonCode::TooSmall => "too_small",
            ReasonCode::Truncated => "truncated",
            ReasonCode::TypeNotAllowed => "type_not_allowed",
            ReasonCode::TypeMismatch => "type_mismatch",
            ReasonCode::TooLarge => "too_large",
            ReasonCode::TooLargeDimensions => "too_large_dimensions",
            ReasonCode::TooSmallDimensions => "too_small_dimensions",
            ReasonCode::WrongAspectRatio => "wrong_aspect_ratio",
            ReasonCode::Corrupt => "corrupt",
            ReasonCode::HeaderTooDeep => "header_too_deep",
            ReasonCode::IntentExpired => "intent_expired",
            ReasonCode::ReviewTimedOut => "review_timed_out",
            ReasonCode::ProcessingFailed => "processing_failed",
            ReasonCode::ReencodedTooLarge => "reencoded_too_large",
            ReasonCode::ObjectReplaced => "object_replaced",
            ReasonCode::ChecksumMismatch => "checksum_mismatch",
            ReasonCode::BannedContent => "banned_content",
            ReasonCode::Infected => "infected",
            ReasonCode::ScanUnsupported => "scan_unsupported",
            ReasonCode::ScanFailed => "scan_failed",
            ReasonCode::ScanSkipped => "scan_skipped",
        }
    }

    /// One sentence for people: the owner page and the CLI show it next to the code.
    pub fn describe(self) -> &'static str {
        match self {
            ReasonCode::Empty => "The file is empty.",
            ReasonCode::TooSmall => "The file is smaller than allowed.",
            ReasonCode::Truncated => "The file ends before its image header does.",
            ReasonCode::TypeNotAllowed => "The file is not a JPEG, PNG or WebP image.",
            ReasonCode::TypeMismatch => "The file's content does not match its declared type.",
            ReasonCode::TooLarge => "The file is larger than allowed.",
            ReasonCode::TooLargeDimensions => "The image is wider, taller or bigger than allowed.",
            ReasonCode::TooSmallDimensions => "The image is narrower or shorter than allowed.",
            ReasonCode::WrongAspectRatio => "The image's shape is outside the slot's aspect range.",
            ReasonCode::Corrupt => "The image is malformed.",
            ReasonCode::HeaderTooDeep => {
                "The image's dimensions are further into the file than Vetted reads."
            }
            ReasonCode::IntentExpired => "The upload did not arrive before its permission expired.",
            ReasonCode::ReviewTimedOut => "No moderator reviewed the image in time.",
            ReasonCode::ProcessingFailed => "Processing failed; an operator has been alerted.",
            ReasonCode::ReencodedTooLarge => {
                "The re-encoded image would be larger than allowed; an operator has been alerted."
            }
            ReasonCode::ObjectReplaced => {
                "The file was sent again after it was checked; upload it once, as a new request."
            }
            ReasonCode::ChecksumMismatch => {
                "The file that arrived is not the one whose checksum was declared; upload it again."
            }
            ReasonCode::BannedContent => "This exact file is not accepted here.",
            ReasonCode::Infected => "The malware scanner found something in the file.",
            ReasonCode::ScanUnsupported => {
                "The malware scanner cannot scan this file, so it cannot be published."
            }
            ReasonCode::ScanFailed => {
                "The malware scan did not complete; an operator has been alerted."
            }
            ReasonCode::ScanSkipped => {
                "No malware scanner is configured; an operator has been alerted."
            }
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReasonCode {
    type Err = UnknownReason;
    fn from_str(s: &str) -> Result<Self, UnknownReason> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownReason(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_text_and_json() {
        for code in ReasonCode::ALL {
            assert_eq!(code.as_str().parse::<ReasonCode>(), Ok(code));
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ReasonCode>(&json).unwrap(), code);
        }
    }

    #[test]
    fn the_foundation_codes_are_spelled_as_promised() {
        let promised = [
            "empty",
            "truncated",
            "type_not_allowed",
            "type_mismatch",
            "too_large",
            "too_large_dimensions",
            "too_small_dimensions",
            "corrupt",
        ];
        for code in promised {
            assert!(code.parse::<ReasonCode>().is_ok(), "{code} missing");
        }
    }
}
