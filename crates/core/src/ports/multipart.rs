//! The multipart port: the server's side of a resumable upload (begin, list the parts the
//! client has sent, complete, abort). The client sends the parts itself, through URLs that
//! [`super::UploadSigner::presign_part`] signs; no byte passes through the server.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;

use super::{BackendError, Retryable};
use crate::checksum::ContentSha256;
use crate::ids::{ObjectKey, UploadId};
use crate::image_type::ImageType;
use crate::time::Timestamp;

/// S3's smallest part, for every part but the last.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// S3's largest part.
pub const MAX_PART_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// S3's highest part number.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// The store's id of one multipart upload (S3's `UploadId`). Opaque; it travels between the
/// server and the store only, never to a client or a log line of its own.
#[derive(Clone, PartialEq, Eq)]
pub struct MultipartUploadId(String);

/// Why a text is not a multipart upload id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("a multipart upload id is 1 to 1024 printable ASCII characters")]
pub struct InvalidMultipartUploadId;

impl MultipartUploadId {
    pub fn parse(raw: &str) -> Result<Self, InvalidMultipartUploadId> {
        let printable = raw.bytes().all(|b| b.is_ascii_graphic());
        if printable && (1..=1024).contains(&raw.len()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidMultipartUploadId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MultipartUploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MultipartUploadId").field(&self.0).finish()
    }
}

/// How a file of `size` bytes is cut: every part `part_size` bytes but the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartPlan {
    pub size: u64,
    pub part_size: u64,
}

impl PartPlan {
    /// The plan for `size` bytes in parts of `part_size`, which grows if `size` would need
    /// more than [`MAX_PART_NUMBER`] parts. `None` for an empty file or a zero part size.
    pub fn new(size: u64, part_size: u64) -> Option<Self> {
        if size == 0 || part_size == 0 {
            return None;
        }
        let part_size = part_size.max(size.div_ceil(u64::from(MAX_PART_NUMBER)));
        Some(Self { size, part_size })
    }

    pub fn part_count(&self) -> u32 {
        u32::try_from(self.size.div_ceil(self.part_size)).unwrap_or(MAX_PART_NUMBER)
    }

    /// The size of part `number` (1-based); `None` outside `1..=part_count`.
    pub fn part_bytes(&self, number: u32) -> Option<u64> {
        if number == 0 || number > self.part_count() {
            return None;
        }
        let start = u64::from(number - 1) * self.part_size;
        Some((self.size - start).min(self.part_size))
    }
}

/// A part the store holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPart {
    pub number: u32,
    pub size: u64,
    /// What CompleteMultipartUpload must name the part by.
    pub etag: String,
    /// The part's checksum as the store reports it. S3 does for an upload begun with the
    /// SHA256 algorithm; moto does not (measured, moto 5.1).
    pub sha256: Option<ContentSha256>,
}

/// One part to sign: its number, its exact length, and its SHA-256, which the store checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartGrant<'a> {
    pub key: &'a ObjectKey,
    pub multipart: &'a MultipartUploadId,
    pub number: u32,
    pub length: u64,
    pub sha256: ContentSha256,
    pub now: Timestamp,
    pub expires_in: Duration,
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MultipartError {
    /// The store knows no such upload for this key: never begun, aborted or completed.
    #[error("the multipart upload does not exist: it was aborted, completed or never begun")]
    NoSuchUpload,
    /// The store refused the completion: a part missing, too small, or not the one named.
    #[error("the store refused to complete the upload: {0}")]
    Refused(String),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Retryable for MultipartError {
    fn is_retryable(&self) -> bool {
        match self {
            MultipartError::NoSuchUpload | MultipartError::Refused(_) => false,
            MultipartError::Backend(e) => e.retryable,
        }
    }
}

/// The server's half of multipart uploads to the upload bucket.
///
/// Contract:
/// - `begin` starts an upload of `key` whose object will have `content_type` and the
///   `upload-id` metadata, with SHA-256 checksums per part, and returns its id.
/// - `list_parts` returns every part the store holds, in ascending order (all pages), and
///   [`MultipartError::NoSuchUpload`] for an upload that is not one of `key`'s.
/// - `complete` makes the object from `parts` (as `list_parts` returned them); the object is
///   then announced as any other (`ObjectCreated:CompleteMultipartUpload`). Completing an
///   upload that is gone is [`MultipartError::NoSuchUpload`].
/// - `abort` removes the upload and its parts; an upload already gone is not an error.
#[async_trait]
pub trait MultipartUploads: Send + Sync {
    async fn begin(
        &self,
        key: &ObjectKey,
        content_type: ImageType,
        upload_id: &UploadId,
    ) -> Result<MultipartUploadId, MultipartError>;

    async fn list_parts(
        &self,
        key: &ObjectKey,
        multipart: &MultipartUploadId,
    ) -> Result<Vec<StoredPart>, MultipartError>;

    async fn complete(
        &self,
        key: &ObjectKey,
        multipart: &MultipartUploadId,
        parts: &[StoredPart],
    ) -> Result<(), MultipartError>;

    async fn abort(
        &self,
        key: &ObjectKey,
        multipart: &MultipartUploadId,
    ) -> Result<(), MultipartError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_cuts_the_file_into_full_parts_and_a_shorter_last_one() {
        let mib = 1024 * 1024;
        let plan = PartPlan::new(30 * mib, 8 * mib).unwrap();
        assert_eq!(plan.part_count(), 4);
        assert_eq!(plan.part_bytes(1), Some(8 * mib));
        assert_eq!(plan.part_bytes(4), Some(6 * mib));
        assert_eq!(plan.part_bytes(0), None);
        assert_eq!(plan.part_bytes(5), None);
        let exact = PartPlan::new(16 * mib, 8 * mib).unwrap();
        assert_eq!(
            (exact.part_count(), exact.part_bytes(2)),
            (2, Some(8 * mib))
        );
        let small = PartPlan::new(10, 8 * mib).unwrap();
        assert_eq!((small.part_count(), small.part_bytes(1)), (1, Some(10)));
        assert_eq!(PartPlan::new(0, 8 * mib), None);
    }

    #[test]
    fn a_plan_never_needs_more_parts_than_s3_allows() {
        let plan = PartPlan::new(100_000 * MIN_PART_BYTES, MIN_PART_BYTES).unwrap();
        assert!(plan.part_count() <= MAX_PART_NUMBER);
        let total: u64 = (1..=plan.part_count())
            .map(|n| plan.part_bytes(n).unwrap())
            .sum();
        assert_eq!(total, plan.size);
    }

    #[test]
    fn upload_ids_are_printable_and_bounded() {
        assert!(MultipartUploadId::parse("abc-DEF_0.9~").is_ok());
        assert!(MultipartUploadId::parse("").is_err());
        assert!(MultipartUploadId::parse("a b").is_err());
        assert!(MultipartUploadId::parse(&"x".repeat(1025)).is_err());
    }
}
