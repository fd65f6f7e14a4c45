//! The upload signer port: presigned POST forms, PUT and GET URLs for the object store.
//!
//! Async because credentials rotate: on Lambda they are temporary and refreshed by the SDK's
//! provider, so every signature asks for the current ones.

use std::ops::RangeInclusive;
use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;

use super::{BackendError, PartGrant, Retryable};
use crate::checksum::ContentSha256;
use crate::ids::{ObjectKey, UploadId};
use crate::image_type::ImageType;
use crate::presign::{PresignError, PresignedPost, PresignedPut};
use crate::time::Timestamp;

/// What one upload may be: the same grant is signed as a POST policy or a PUT URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadGrant {
    pub upload_id: UploadId,
    /// The server-built key (`incoming/{owner}/{upload_id}`).
    pub key: ObjectKey,
    pub content_type: ImageType,
    /// Allowed sizes: from the policy's minimum up to the declared size. A POST enforces the
    /// range; a PUT signs `Content-Length` as the declared size, the upper bound.
    pub length: RangeInclusive<u64>,
    /// The content's SHA-256, when the client pinned it: the store then refuses any other body.
    pub sha256: Option<ContentSha256>,
    pub now: Timestamp,
    pub expires_in: Duration,
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SignerError {
    /// The grant itself cannot be signed (an expiry or size range out of bounds).
    #[error(transparent)]
    Invalid(#[from] PresignError),
    /// Credentials could not be obtained, or the SDK refused to sign.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Retryable for SignerError {
    fn is_retryable(&self) -> bool {
        match self {
            SignerError::Invalid(_) => false,
            SignerError::Backend(e) => e.retryable,
        }
    }
}

/// Presigns uploads to, and downloads from, the upload bucket.
///
/// Contract:
/// - `presign_post` returns a form whose policy pins the bucket, `grant.key`, exactly
///   `grant.content_type`, `grant.length` as `content-length-range`, the upload id as
///   `x-amz-meta-upload-id`, `success_action_status` 201, and expires at
///   `grant.now + grant.expires_in`. With `grant.sha256`, it also pins
///   `x-amz-checksum-algorithm` `SHA256` and `x-amz-checksum-sha256` with `eq` conditions.
/// - `presign_put` returns a URL and the headers that must be sent with it; `Content-Type`
///   and `If-None-Match: *` are among the signed headers, so another type is refused and an
///   existing object cannot be overwritten by replaying the URL. With `grant.sha256`,
///   `x-amz-checksum-sha256` is a signed header too.
/// - Either way, a store given a pinned checksum refuses a body whose SHA-256 differs.
/// - `presign_part` returns a PUT URL for one part of a multipart upload, with
///   `Content-Length` and `x-amz-checksum-sha256` signed: the store refuses another length or
///   a body whose SHA-256 differs (moto does not check the part's checksum; measured).
/// - `presign_get` returns a URL valid for `expires_in` from now.
/// - Nothing here writes or reads an object.
#[async_trait]
pub trait UploadSigner: Send + Sync {
    async fn presign_post(&self, grant: &UploadGrant) -> Result<PresignedPost, SignerError>;

    async fn presign_put(&self, grant: &UploadGrant) -> Result<PresignedPut, SignerError>;

    async fn presign_part(&self, grant: &PartGrant<'_>) -> Result<PresignedPut, SignerError>;

    async fn presign_get(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<String, SignerError>;
}
