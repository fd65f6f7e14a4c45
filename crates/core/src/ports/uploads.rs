//! The record store port: one record per upload, moved only by conditional transitions.

use async_trait::async_trait;
use thiserror::Error;

use super::{BackendError, Retryable};
use crate::checksum::ContentSha256;
use crate::ids::{OwnerId, TaskToken, UploadId};
use crate::record::{Transition, UploadRecord};
use crate::restaurant::RestaurantId;
use crate::status::Status;

/// An opaque position in a listing, handed back to fetch the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageToken(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// At most this many items (adapters clamp it to 1..=100).
    pub limit: u32,
    pub after: Option<PageToken>,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        Self { limit, after: None }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present when more items may follow.
    pub next: Option<PageToken>,
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum UploadsError {
    #[error("upload {0} not found")]
    NotFound(UploadId),
    #[error("upload {0} already exists")]
    AlreadyExists(UploadId),
    /// The stored status was not the transition's `from`: nothing was written. `current` is
    /// the record as it stands, read atomically with the failed condition, so the caller can
    /// tell "already done" from "moved elsewhere" without another read.
    #[error("upload {} is {}, not {expected}", current.id, current.status)]
    Conflict {
        expected: Status,
        current: Box<UploadRecord>,
    },
    #[error("page token is not one this store issued")]
    BadPageToken,
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Retryable for UploadsError {
    fn is_retryable(&self) -> bool {
        match self {
            UploadsError::Backend(e) => e.retryable,
            _ => false,
        }
    }
}

/// Upload records.
///
/// Contract:
/// - `create` stores a new record; a second `create` with the same id is `AlreadyExists` and
///   changes nothing.
/// - `get` returns the record as last written, task token included, or `NotFound`.
/// - `transition` is atomic and conditional: it applies exactly what
///   [`UploadRecord::apply`] does, if and only if the stored status is `transition.from`;
///   otherwise it writes nothing and returns `Conflict` with the record as it now stands. Of
///   any number of concurrent transitions from the same status, exactly one succeeds.
/// - `set_review_stage` is atomic and conditional: if the stored status is `IN_REVIEW` or
///   `AWAITING_SECOND` ([`Status::is_open_review`]) and
///   its escalation level (0 when unset) is at most `level`, it sets the level to `level`
///   and, when one is given, the task token, and changes nothing else (`status_since`
///   included); otherwise it writes nothing and returns `Conflict` (`expected: IN_REVIEW`)
///   with the record as it stands. [`UploadRecord::with_review_stage`] is the reference.
/// - `list_by_owner` returns that owner's records, newest `created_at` first.
/// - `list_by_status` returns the records now in `status`, oldest `status_since` first.
/// - `list_in_progress` returns the restaurant's records whose status
///   [`is_in_progress`](Status::is_in_progress), newest `created_at` first: the change
///   requests its slots show as pending.
/// - `list_by_restaurant` returns every record of the restaurant, whatever its status, newest
///   `created_at` first: what a purge of the restaurant must delete.
/// - Listings page with `PageRequest`: following `next` until it is `None` yields every
///   matching record exactly once.
/// - `record_sha256` sets the record's `sha256` if it has none, atomically, and changes
///   nothing else (`status` and `status_since` included); a record that has one keeps it. It
///   returns the record as it now stands, so the caller compares the stored digest with its
///   own; a missing record is `NotFound`.
/// - `list_by_sha256` returns the records whose `sha256` is the digest, whatever their status,
///   newest `created_at` first: the earlier decisions on the same bytes.
/// - `delete` removes the record and says whether it was there: deleting a record that is not
///   there (never was, or deleted already) succeeds with `false`. Afterwards `get` is
///   `NotFound`, no listing returns it, and a `transition` of it is `NotFound`.
#[async_trait]
pub trait Uploads: Send + Sync {
    async fn create(&self, record: &UploadRecord) -> Result<(), UploadsError>;

    async fn get(&self, id: &UploadId) -> Result<UploadRecord, UploadsError>;

    async fn transition(
        &self,
        id: &UploadId,
        transition: &Transition,
    ) -> Result<UploadRecord, UploadsError>;

    async fn set_review_stage(
        &self,
        id: &UploadId,
        level: u8,
        task_token: Option<&TaskToken>,
    ) -> Result<UploadRecord, UploadsError>;

    async fn list_by_owner(
        &self,
        owner: &OwnerId,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError>;

    async fn list_by_status(
        &self,
        status: Status,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError>;

    async fn list_in_progress(
        &self,
        restaurant: &RestaurantId,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError>;

    async fn list_by_restaurant(
        &self,
        restaurant: &RestaurantId,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError>;

    async fn record_sha256(
        &self,
        id: &UploadId,
        sha256: &ContentSha256,
    ) -> Result<UploadRecord, UploadsError>;

    async fn list_by_sha256(
        &self,
        sha256: &ContentSha256,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError>;

    async fn delete(&self, id: &UploadId) -> Result<bool, UploadsError>;
}
