//! The banned-content port: the list of SHA-256 digests admins refuse for good.

use async_trait::async_trait;
use thiserror::Error;

use super::{BackendError, Retryable};
use crate::banned::BannedEntry;
use crate::checksum::ContentSha256;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BannedError {
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Retryable for BannedError {
    fn is_retryable(&self) -> bool {
        match self {
            BannedError::Backend(e) => e.retryable,
        }
    }
}

/// The banned-content list.
///
/// Contract (`vetted_contract::banned`):
/// - `ban` stores the entry, replacing any earlier entry for the same digest (a second ban
///   updates the note, the admin and the time); it succeeds either way.
/// - `get` returns the entry for a digest, or `None`.
/// - `unban` removes the digest's entry and says whether there was one; a second call is
///   `false`. Afterwards `get` is `None` and `list` leaves it out.
/// - `list` returns every entry, newest `at` first (then by digest). The list is meant to stay
///   small (digests an admin chose one by one), so it is not paged.
#[async_trait]
pub trait BannedContent: Send + Sync {
    async fn ban(&self, entry: &BannedEntry) -> Result<(), BannedError>;

    async fn get(&self, sha256: &ContentSha256) -> Result<Option<BannedEntry>, BannedError>;

    async fn unban(&self, sha256: &ContentSha256) -> Result<bool, BannedError>;

    async fn list(&self) -> Result<Vec<BannedEntry>, BannedError>;
}
