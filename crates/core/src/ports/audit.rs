//! The audit trail port: an append-only log of decisions and operators' actions.

use async_trait::async_trait;
use thiserror::Error;

use super::{BackendError, Page, PageRequest, Retryable};
use crate::audit::AuditEntry;
use crate::ids::UploadId;
use crate::time::Timestamp;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AuditError {
    #[error("page token is not one this trail issued")]
    BadPageToken,
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Retryable for AuditError {
    fn is_retryable(&self) -> bool {
        match self {
            AuditError::Backend(e) => e.retryable,
            AuditError::BadPageToken => false,
        }
    }
}

/// The audit trail.
///
/// Contract (`vetted_contract::audit`):
/// - `append` stores the entry. An entry whose id is stored already is left as it was and the
///   call succeeds, so a retried write is harmless. Nothing ever changes or deletes an entry.
/// - `for_upload` returns every entry naming the upload, oldest first (by `at`, then `id`).
/// - `since` returns the entries with `at >= since`, oldest first (by `at`, then `id`), a page
///   at a time; following `next` until it is `None` yields each exactly once.
#[async_trait]
pub trait AuditTrail: Send + Sync {
    async fn append(&self, entry: &AuditEntry) -> Result<(), AuditError>;

    async fn for_upload(&self, upload: &UploadId) -> Result<Vec<AuditEntry>, AuditError>;

    async fn since(
        &self,
        since: Timestamp,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, AuditError>;
}
