//! The ports: what the domain needs from the outside world, named by role.
//!
//! Each trait states its contract in its doc comments, and `vetted-contract` holds one suite
//! per port that every adapter (embedded and AWS) must pass. SDK types never cross a port:
//! adapters translate them into the error types below, keeping the cause as the source.

mod accounts;
mod audit;
mod banned;
mod events;
mod invitations;
mod mailer;
mod multipart;
mod notifications;
mod objects;
mod presign;
mod queue;
mod restaurants;
mod scanner;
mod uploads;
mod webhooks;
mod workflow;

pub use accounts::{Accounts, ConfirmedAccount, IssuedTokens, TokenIssuer, TokenSubject};
pub use audit::{AuditError, AuditTrail};
pub use banned::{BannedContent, BannedError};
pub use events::{EventError, EventFeed, EventSink, FeedPage, RecordedEvent};
pub use invitations::{Invitation, Invitations, InvitationsError};
pub use mailer::{Email, MailError, Mailer};
pub use multipart::{
    InvalidMultipartUploadId, MAX_PART_BYTES, MAX_PART_NUMBER, MIN_PART_BYTES, MultipartError,
    MultipartUploadId, MultipartUploads, PartGrant, PartPlan, StoredPart,
};
pub use notifications::{Notifications, NotificationsError};
pub use objects::{ObjectMeta, ObjectStore, StoreError};
pub use presign::{SignerError, UploadGrant, UploadSigner};
pub use queue::{MAX_SEND_DELAY, QueueError, QueueMessage, QueueStats, Receipt, WorkQueue};
pub use restaurants::{Removal, Restaurants, RestaurantsError, Rollback};
pub use scanner::{ScanOutcome, Scanner};
pub use uploads::{Page, PageRequest, PageToken, Uploads, UploadsError};
pub use webhooks::{Webhooks, WebhooksError};
pub use workflow::{
    ReviewStages, ReviewStart, ReviewStarter, ReviewWorkflow, StartOutcome, TaskResponder,
    WorkflowError,
};

use std::error::Error as StdError;

use thiserror::Error;

/// A failure of the infrastructure behind a port, with its cause.
///
/// `retryable` says whether the same call may succeed later (throttling, a timeout, a 5xx, a
/// dropped connection) or never will (access denied, a malformed request). Workers retry the
/// first kind and give up on the second, and the workflow's `Retry` blocks match the names
/// workers derive from it.
#[derive(Debug, Error)]
#[error("{operation} failed: {source}")]
pub struct BackendError {
    pub operation: &'static str,
    pub retryable: bool,
    #[source]
    pub source: Box<dyn StdError + Send + Sync>,
}

impl BackendError {
    pub fn retryable(
        operation: &'static str,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self {
            operation,
            retryable: true,
            source: source.into(),
        }
    }

    pub fn permanent(
        operation: &'static str,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self {
            operation,
            retryable: false,
            source: source.into(),
        }
    }
}

/// Whether an error may go away if the same work is tried again.
pub trait Retryable {
    fn is_retryable(&self) -> bool;
}
