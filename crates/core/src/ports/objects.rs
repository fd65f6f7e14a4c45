//! The object store port: where uploaded, sanitized and published bytes live.

use std::ops::Range;
use std::path::Path;

use async_trait::async_trait;
use bytes::Bytes;
use thiserror::Error;

use super::{BackendError, Retryable};
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
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("object {0} not found")]
    NotFound(ObjectKey),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Retryable for StoreError {
    fn is_retryable(&self) -> bool {
        match self {
            StoreError::NotFound(_) => false,
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
/// - `put` and `put_file` replace the object atomically: a reader sees the old bytes or the new
///   ones, never a mix or a partial object. Each returns the new object's metadata.
/// - `copy` keeps the bytes and sets `content_type` on the copy.
/// - `delete` of a missing key succeeds: deleting is idempotent.
/// - A key never names anything outside the store.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StoreError>;

    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<Bytes, StoreError>;

    async fn get(&self, key: &ObjectKey) -> Result<Bytes, StoreError>;

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

    async fn copy(
        &self,
        from: &ObjectKey,
        to: &ObjectKey,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError>;

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError>;
}
