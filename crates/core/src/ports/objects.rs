//! The object store port: where uploaded, sanitized and published bytes live.

use std::ops::Range;
use std::path::Path;

use async_trait::async_trait;
use bytes::Bytes;
use thiserror::Error;

use super::{BackendError, Retryable};
use crate::checksum::ContentSha256;
use crate::ids::ObjectKey;

/// What the store knows about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub size: u64,
    /// Changes whenever the content changes; quoted as S3 returns it.
    pub etag: String,
    /// The version id, where the store keeps versions.
    pub version: Option<String>,
    pub content_type: Option<String>,
    /// The whole content's SHA-256, where the store knows it: always on a store that hashes
    /// what it writes (the file store); on S3, from `head` (read with `ChecksumMode`) when the
    /// write carried an `x-amz-checksum-sha256` that S3 verified. `None` elsewhere.
    pub sha256: Option<ContentSha256>,
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("object {0} not found")]
    NotFound(ObjectKey),
    /// The store no longer holds that version of the object: a later write replaced it (on a
    /// store that keeps only the latest write), or it was deleted.
    #[error("version {version} of object {key} is gone")]
    VersionGone { key: ObjectKey, version: String },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl StoreError {
    /// For adapters' reads of one version: no object at the key, or another write there
    /// (which they report as `NotFound`), means that version is gone.
    pub fn for_version(self, key: &ObjectKey, version: &str) -> Self {
        match self {
            StoreError::NotFound(_) => StoreError::VersionGone {
                key: key.clone(),
                version: version.to_owned(),
            },
            other => other,
        }
    }
}

impl Retryable for StoreError {
    fn is_retryable(&self) -> bool {
        match self {
            StoreError::NotFound(_) | StoreError::VersionGone { .. } => false,
            StoreError::Backend(e) => e.retryable,
        }
    }
}

/// Objects by key.
///
/// Contract:
/// - `head`, `get_range`, `get` and `copy` on a missing key return `NotFound`.
/// - `get_range(key, a..b)` returns the bytes from `a` up to `b` (exclusive), clipped to the
///   object's end: a range past the end returns fewer bytes, or none. Only the bytes asked for
///   are read from the backend.
/// - `put`, `put_file` and `adopt_file` replace the object atomically: a reader sees the old
///   bytes or the new ones, never a mix or a partial object. Each returns the new object's
///   metadata.
/// - `copy` keeps the bytes and sets `content_type` on the copy.
/// - `delete` of a missing key succeeds: deleting is idempotent.
/// - Every write of a key has a version (`ObjectMeta::version`), different from every other
///   write's, also when the bytes are the same. `get_version` and `get_range_of_version` read
///   exactly that write, or answer `VersionGone` (never another write's bytes; `NotFound` only
///   for a key with no object at all). `delete_version` removes exactly that write and
///   leaves any later one; a version the store does not hold is already deleted.
/// - `delete_all_versions` removes every write of the key the store still holds (on a store
///   that keeps versions, each older version and delete marker too), so that afterwards no
///   read of the key or of any of its versions finds anything. A missing key succeeds.
/// - A key never names anything outside the store.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StoreError>;

    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<Bytes, StoreError>;

    async fn get(&self, key: &ObjectKey) -> Result<Bytes, StoreError>;

    /// `get_range` of exactly the write `version` names.
    async fn get_range_of_version(
        &self,
        key: &ObjectKey,
        version: &str,
        range: Range<u64>,
    ) -> Result<Bytes, StoreError>;

    /// `get` of exactly the write `version` names.
    async fn get_version(&self, key: &ObjectKey, version: &str) -> Result<Bytes, StoreError>;

    async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError>;

    /// Stores the contents of a local file without reading it into memory.
    async fn put_file(
        &self,
        key: &ObjectKey,
        path: &Path,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError>;

    /// Stores a local file that the caller gives up, as `put_file` does, except that the
    /// store may take the file itself instead of copying its bytes (the file store renames it
    /// into place when it is on the same filesystem). Afterwards `path` may be gone, or still
    /// there for the caller to remove; the caller must not read, write or reuse it. For files
    /// the caller made for this one write, such as an upload endpoint's spool.
    async fn adopt_file(
        &self,
        key: &ObjectKey,
        path: &Path,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError> {
        self.put_file(key, path, content_type).await
    }

    async fn copy(
        &self,
        from: &ObjectKey,
        to: &ObjectKey,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError>;

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError>;

    /// Deletes exactly the write `version` names, and nothing written after it.
    async fn delete_version(&self, key: &ObjectKey, version: &str) -> Result<(), StoreError>;

    /// Deletes the key for good: every version of it, not only the latest.
    async fn delete_all_versions(&self, key: &ObjectKey) -> Result<(), StoreError>;
}
