//! Operator recovery, the part both `vetted admin` and the admin API share: list what failed
//! (uploads `FAILED`, with their cause, and each queue's dead letters), send it back, and
//! expire stale intents now.
//!
//! Every operation is idempotent and safe to interrupt: each move is one conditional write or
//! one queue move, and what a run left half done the next run (or the maintenance pass)
//! finishes. Each takes `dry_run`, which reads and reports but writes nothing.
//!
//! The redrive of one `FAILED` upload is [`Intake::redrive_failed`]; [`rescan`] runs the gate
//! again under today's policy; [`purge`] deletes a restaurant's or a user's objects and
//! records.

pub mod purge;
pub mod rescan;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::intake::{Intake, SweepReport};
use crate::ports::{PageRequest, QueueError, Uploads, UploadsError, WorkQueue};
use crate::reason::ReasonCode;
use crate::record::UploadRecord;
use crate::status::Status;
use crate::time::Timestamp;
use crate::{OwnerId, UploadId};

/// At most this many `FAILED` uploads are listed at once.
pub const MAX_FAILED_LISTED: usize = 1000;
/// Dead letters moved per call of the queue's `redrive`.
const REDRIVE_BATCH: u32 = 100;
/// A dead-letter redrive stops after this many batches; run it again for the rest.
const MAX_REDRIVE_BATCHES: usize = 100;

/// One of the pipeline's work queues, named for operators.
#[derive(Clone)]
pub struct NamedQueue {
    pub name: &'static str,
    pub queue: Arc<dyn WorkQueue>,
}

/// A `FAILED` upload and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedUpload {
    pub upload_id: UploadId,
    pub owner: OwnerId,
    /// `restaurant/slot`.
    pub slot: String,
    pub reason: Option<ReasonCode>,
    /// What failed, as the step that failed it recorded it.
    pub failure: Option<String>,
    /// When it failed.
    pub failed_at: Timestamp,
}

impl From<&UploadRecord> for FailedUpload {
    fn from(record: &UploadRecord) -> Self {
        Self {
            upload_id: record.id,
            owner: record.owner.clone(),
            slot: record.target.to_string(),
            reason: record.reason,
            failure: record.failure.clone(),
            failed_at: record.status_since,
        }
    }
}

/// One queue's dead letters. A dead letter's cause is not kept by the queue (SQS keeps none):
/// it is in the logs of the worker that failed it, under the message's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetters {
    pub queue: &'static str,
    /// Approximate, as the queue counts it.
    pub dead: u64,
}

/// What `failed` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedReport {
    /// Oldest first, at most [`MAX_FAILED_LISTED`].
    pub uploads: Vec<FailedUpload>,
    /// More `FAILED` uploads exist than are listed.
    pub truncated: bool,
    pub dead_letters: Vec<DeadLetters>,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("listing uploads: {0}")]
    Uploads(#[from] UploadsError),
    #[error("queue {queue}: {source}")]
    Queue {
        queue: &'static str,
        #[source]
        source: QueueError,
    },
    #[error(transparent)]
    Step(#[from] crate::service::StepError),
    #[error("restaurants: {0}")]
    Restaurants(#[from] crate::ports::RestaurantsError),
    #[error("notifications: {0}")]
    Notifications(#[from] crate::ports::NotificationsError),
    #[error("invitations: {0}")]
    Invitations(#[from] crate::ports::InvitationsError),
    #[error("object {key}: {source}")]
    Store {
        key: crate::ids::ObjectKey,
        #[source]
        source: crate::ports::StoreError,
    },
}

impl crate::ports::Retryable for AdminError {
    fn is_retryable(&self) -> bool {
        match self {
            AdminError::Uploads(e) => e.is_retryable(),
            AdminError::Queue { source, .. } => source.is_retryable(),
            AdminError::Step(e) => e.is_retryable(),
            AdminError::Restaurants(e) => e.is_retryable(),
            AdminError::Notifications(e) => e.is_retryable(),
            AdminError::Invitations(e) => e.is_retryable(),
            AdminError::Store { source, .. } => source.is_retryable(),
        }
    }
}

/// Lists the `FAILED` uploads (oldest first) and the dead letters of each queue.
pub async fn failed(
    uploads: &dyn Uploads,
    queues: &[NamedQueue],
) -> Result<FailedReport, AdminError> {
    let mut listed = Vec::new();
    let mut page = PageRequest::first(100);
    let mut truncated = false;
    loop {
        let batch = uploads.list_by_status(Status::Failed, &page).await?;
        listed.extend(batch.items.iter().map(FailedUpload::from));
        match batch.next {
            Some(_) if listed.len() >= MAX_FAILED_LISTED => {
                truncated = true;
                break;
            }
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    if listed.len() > MAX_FAILED_LISTED {
        listed.truncate(MAX_FAILED_LISTED);
        truncated = true;
    }
    let mut dead_letters = Vec::with_capacity(queues.len());
    for named in queues {
        let stats = named
            .queue
            .stats()
            .await
            .map_err(|source| AdminError::Queue {
                queue: named.name,
                source,
            })?;
        dead_letters.push(DeadLetters {
            queue: named.name,
            dead: stats.dead,
        });
    }
    Ok(FailedReport {
        uploads: listed,
        truncated,
        dead_letters,
    })
}

/// What a dead-letter redrive of one queue did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetterRedrive {
    pub queue: &'static str,
    /// Moved back to the queue; with `dry_run`, how many would be (the queue's count).
    pub moved: u64,
    pub dry_run: bool,
}

/// Moves a queue's dead letters back to it, where its workers handle them again.
pub async fn redrive_dead_letters(
    named: &NamedQueue,
    dry_run: bool,
) -> Result<DeadLetterRedrive, AdminError> {
    let queue_error = |source| AdminError::Queue {
        queue: named.name,
        source,
    };
    if dry_run {
        let stats = named.queue.stats().await.map_err(queue_error)?;
        return Ok(DeadLetterRedrive {
            queue: named.name,
            moved: stats.dead,
            dry_run,
        });
    }
    let mut moved = 0u64;
    for _ in 0..MAX_REDRIVE_BATCHES {
        let batch = named
            .queue
            .redrive(REDRIVE_BATCH)
            .await
            .map_err(queue_error)?;
        moved += u64::from(batch);
        if batch == 0 {
            break;
        }
    }
    if moved > 0 {
        // audit: redrive (dead letters of one queue back to it, by an operator)
        tracing::warn!(
            queue = named.name,
            moved,
            "operator redrive of dead letters"
        );
    }
    Ok(DeadLetterRedrive {
        queue: named.name,
        moved,
        dry_run,
    })
}

/// What `expire` did, or would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpireReport {
    /// Intents past their deadline: expired now, or with `dry_run` the ones that would be
    /// (unless their upload is found in the store, which is then handled instead).
    pub stale: Vec<UploadId>,
    /// Without `dry_run`: the maintenance sweep's report (expired, and uploads recovered
    /// whose notification never came).
    pub swept: Option<SweepReport>,
}

/// Expires intents past their deadline now: the maintenance pass's sweep over intents, with
/// no grace period. An intent whose object is in the store is handled as its notification
/// would have been, not expired.
pub async fn expire(intake: &Intake, dry_run: bool) -> Result<ExpireReport, AdminError> {
    let now = intake.ports.clock.now();
    let mut stale = Vec::new();
    let mut page = PageRequest::first(100);
    loop {
        let batch = intake
            .ports
            .uploads
            .list_by_status(Status::AwaitingUpload, &page)
            .await?;
        stale.extend(
            batch
                .items
                .iter()
                .filter(|record| now > record.expires_at)
                .map(|record| record.id),
        );
        match batch.next {
            Some(next) if stale.len() < MAX_FAILED_LISTED => page.after = Some(next),
            _ => break,
        }
    }
    if dry_run {
        return Ok(ExpireReport { stale, swept: None });
    }
    let swept = intake.sweep_awaiting(Duration::ZERO).await?;
    Ok(ExpireReport {
        stale,
        swept: Some(swept),
    })
}
