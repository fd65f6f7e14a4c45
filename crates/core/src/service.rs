//! What every service is made of and how it fails: the [`Ports`] bundle that intake, the
//! review and the API share; the one error a step returns ([`StepError`]); and the one shape
//! of a queue consumer ([`QueueService`]), which the Lambda functions and `vetted serve`'s
//! workers both drive.

use std::sync::Arc;

use async_trait::async_trait;
use thiserror::Error;

use crate::ids::{ObjectKey, UploadId};
use crate::intake::NotificationError;
use crate::lifecycle::Lifecycle;
use crate::media::MediaUrls;
use crate::ports::{
    AuditTrail, BannedContent, BannedError, EventError, EventSink, ObjectStore, Restaurants,
    RestaurantsError, Retryable, StoreError, Uploads, UploadsError, WorkflowError,
};
use crate::restaurant::SlotRef;
use crate::status::IllegalMove;
use crate::time::Clock;

/// The ports every service uses, assembled once per process by its composition root.
/// Services that start reviews or answer tasks take that role's port beside it.
#[derive(Clone)]
pub struct Ports {
    pub uploads: Arc<dyn Uploads>,
    /// Restaurants, members and what each slot shows.
    pub restaurants: Arc<dyn Restaurants>,
    pub objects: Arc<dyn ObjectStore>,
    pub events: Arc<dyn EventSink>,
    pub clock: Arc<dyn Clock>,
    /// The append-only record of decisions and operators' actions.
    pub audit: Arc<dyn AuditTrail>,
    /// The SHA-256 digests admins refuse for good.
    pub banned: Arc<dyn BannedContent>,
    /// How published images are addressed; events and views carry their URLs.
    pub media: MediaUrls,
}

impl Ports {
    /// Moves records and announces their events over these ports.
    pub fn lifecycle(&self) -> Lifecycle<'_> {
        Lifecycle::new(self)
    }
}

/// Why a step of a service (an intake message, a review task, a decision, a sweep) could not
/// finish. Each variant keeps its cause; [`Retryable`] says whether trying the same step again
/// may help, which decides whether a queue message is retried and what the workflow hears.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StepError {
    /// The queue message is not one this service reads. Retrying cannot help: it belongs in
    /// the dead-letter queue, where an operator can look at it.
    #[error(transparent)]
    Notification(#[from] NotificationError),
    #[error("task message is not one the review workflow sends: {0}")]
    MalformedTask(String),
    /// A message on the notify queue that is not a Vetted event as EventBridge delivers it.
    #[error("not an event as EventBridge delivers it: {0}")]
    MalformedEvent(String),
    #[error("upload {upload}: owner emails: {source}")]
    Notify {
        upload: UploadId,
        #[source]
        source: crate::notify::NotifyError,
    },
    #[error("listing uploads: {source}")]
    Listing {
        #[source]
        source: UploadsError,
    },
    #[error("upload {upload}: record store: {source}")]
    Uploads {
        upload: UploadId,
        #[source]
        source: UploadsError,
    },
    #[error("slot {slot}: {source}")]
    Restaurants {
        slot: SlotRef,
        #[source]
        source: RestaurantsError,
    },
    #[error("object {key}: {source}")]
    Store {
        key: ObjectKey,
        #[source]
        source: StoreError,
    },
    #[error("upload {upload}: review workflow: {source}")]
    Workflow {
        upload: UploadId,
        #[source]
        source: WorkflowError,
    },
    #[error("upload {upload}: events: {source}")]
    Events {
        upload: UploadId,
        #[source]
        source: EventError,
    },
    #[error("upload {upload}: banned-content list: {source}")]
    Banned {
        upload: UploadId,
        #[source]
        source: BannedError,
    },
    #[error("upload {upload}: the sanitizer stopped unexpectedly")]
    SanitizerCrashed { upload: UploadId },
    /// A step asked for a move the status machine forbids: a bug, never retried.
    #[error("upload {upload}: {source}")]
    IllegalMove {
        upload: UploadId,
        #[source]
        source: IllegalMove,
    },
}

impl StepError {
    /// An object store failure on `key`.
    pub fn store(key: &ObjectKey, source: StoreError) -> Self {
        StepError::Store {
            key: key.clone(),
            source,
        }
    }
}

impl Retryable for StepError {
    fn is_retryable(&self) -> bool {
        match self {
            StepError::Notification(_)
            | StepError::MalformedTask(_)
            | StepError::MalformedEvent(_)
            | StepError::SanitizerCrashed { .. }
            | StepError::IllegalMove { .. } => false,
            StepError::Listing { source } | StepError::Uploads { source, .. } => {
                source.is_retryable()
            }
            StepError::Store { source, .. } => source.is_retryable(),
            StepError::Restaurants { source, .. } => source.is_retryable(),
            StepError::Workflow { source, .. } => source.is_retryable(),
            StepError::Events { source, .. } => source.is_retryable(),
            StepError::Notify { source, .. } => source.is_retryable(),
            StepError::Banned { source, .. } => source.is_retryable(),
        }
    }
}

/// A service that consumes one work queue, one message at a time: intake (bucket
/// notifications) and the review (workflow tasks). `vetted serve`'s workers and
/// `vetted_lambda::run_sqs` drive any of them the same way.
///
/// Contract: `handle` is safe to call again with the same body (queues deliver at least
/// once). `Ok` means the message is done and may be acknowledged; `Err` means it was not,
/// and [`Retryable::is_retryable`] says whether delivering it again may help.
#[async_trait]
pub trait QueueService: Send + Sync + 'static {
    /// A short name for logs ("intake", "review").
    fn name(&self) -> &'static str;

    async fn handle(&self, body: &str) -> Result<(), StepError>;
}
