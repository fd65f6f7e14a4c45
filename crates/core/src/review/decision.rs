//! A moderator's decision: a conditional write first, then the answer to the waiting workflow.
//!
//! `IN_REVIEW → DECIDED` records who decided what, atomically, so of two moderators exactly
//! one wins; only then is the stored task token used. If the answer cannot be delivered
//! (the workflow engine is unreachable), the decision stays recorded as `DECIDED` and
//! [`Review::redeliver_decisions`] sends it again later. If the task timed out before the
//! decision arrived, the upload is `EXPIRED` and the caller is told so.

use std::time::Duration;

use serde_json::json;
use thiserror::Error;
use tracing::{info, warn};

use super::Review;
use crate::events::UploadEvent;
use crate::ids::{ModeratorId, TaskToken, UploadId};
use crate::ports::{EventError, PageRequest, UploadsError, WorkflowError};
use crate::reason::ReasonCode;
use crate::record::{Decision, DeclineReason, RecordChanges, Transition, UploadRecord};
use crate::status::Status;

/// How a recorded decision fared.
#[derive(Debug, Clone, PartialEq)]
pub enum DecisionOutcome {
    /// The workflow has the decision and carries on.
    Delivered(UploadRecord),
    /// The decision is recorded; delivering it failed for now and will be retried.
    Pending(UploadRecord),
}

#[derive(Debug, Error)]
pub enum DecisionError {
    #[error("upload {0} not found")]
    NotFound(UploadId),
    #[error("upload {id} has already been decided (it is {status})")]
    AlreadyDecided { id: UploadId, status: Status },
    #[error("upload {id} is not waiting for review (it is {status})")]
    NotInReview { id: UploadId, status: Status },
    #[error("the review of upload {id} timed out before the decision arrived")]
    TimedOut { id: UploadId },
    #[error("upload {id}: record store: {source}")]
    Uploads {
        id: UploadId,
        #[source]
        source: UploadsError,
    },
    #[error("listing decided uploads: {0}")]
    Listing(#[source] UploadsError),
    #[error("upload {id}: events: {source}")]
    Events {
        id: UploadId,
        #[source]
        source: EventError,
    },
}

impl Review {
    /// Records `moderator`'s decision on upload `id` and answers the workflow.
    #[tracing::instrument(skip(self, moderator), fields(upload_id = %id))]
    pub async fn decide(
        &self,
        id: UploadId,
        moderator: ModeratorId,
        decision: Decision,
        reason: Option<DeclineReason>,
    ) -> Result<DecisionOutcome, DecisionError> {
        let record = self.record_for_decision(id).await?;
        let changes = RecordChanges {
            moderator: Some(moderator),
            decision: Some(decision),
            decline_reason: match decision {
                Decision::Approve => None,
                Decision::Decline => Some(reason.unwrap_or(DeclineReason::Other)),
            },
            ..Default::default()
        };
        let transition = Transition::new(Status::InReview, Status::Decided, self.clock.now())
            .unwrap_or_else(|e| unreachable!("IN_REVIEW → DECIDED is allowed: {e}"))
            .with(changes);
        let decided = match self.uploads.transition(&id, &transition).await {
            Ok(decided) => decided,
            Err(UploadsError::Conflict(_)) => {
                // Someone else moved it first: report what it became.
                let current = self.get_for_decision(id).await?;
                return Err(refusal(&current));
            }
            Err(source) => return Err(DecisionError::Uploads { id, source }),
        };
        let token = record.task_token.ok_or(DecisionError::NotInReview {
            id,
            status: Status::InReview,
        })?;
        match self.deliver(&decided, &token).await {
            Delivery::Done => Ok(DecisionOutcome::Delivered(decided)),
            Delivery::Later => Ok(DecisionOutcome::Pending(decided)),
            Delivery::TaskGone => {
                self.expire_decided(&decided).await?;
                Err(DecisionError::TimedOut { id })
            }
        }
    }

    /// Sends again every decision recorded more than `older_than` ago whose delivery may have
    /// failed. Returns how many were delivered. Run it periodically and at start-up.
    pub async fn redeliver_decisions(&self, older_than: Duration) -> Result<usize, DecisionError> {
        let now = self.clock.now();
        let mut page = PageRequest::first(100);
        let mut delivered = 0;
        loop {
            let batch = self
                .uploads
                .list_by_status(Status::Decided, &page)
                .await
                .map_err(DecisionError::Listing)?;
            for record in &batch.items {
                if now.duration_since(record.status_since) < older_than {
                    continue;
                }
                let Some(token) = &record.task_token else {
                    continue;
                };
                // TaskGone here is not proof of a timeout: the first delivery may have
                // succeeded just before a crash. The workflow's own steps move the record on.
                if matches!(self.deliver(record, token).await, Delivery::Done) {
                    delivered += 1;
                }
            }
            match batch.next {
                Some(next) => page.after = Some(next),
                None => return Ok(delivered),
            }
        }
    }

    async fn deliver(&self, decided: &UploadRecord, token: &TaskToken) -> Delivery {
        let output = json!({ "decision": decided.decision });
        match self.workflow.send_task_success(token, &output).await {
            Ok(()) => {
                info!(decision = ?decided.decision, "decision delivered");
                Delivery::Done
            }
            Err(WorkflowError::TaskGone) => Delivery::TaskGone,
            Err(error) => {
                warn!(%error, "decision recorded, delivery will be retried");
                Delivery::Later
            }
        }
    }

    async fn expire_decided(&self, decided: &UploadRecord) -> Result<(), DecisionError> {
        let id = decided.id;
        let transition = Transition::new(Status::Decided, Status::Expired, self.clock.now())
            .unwrap_or_else(|e| unreachable!("DECIDED → EXPIRED is allowed: {e}"))
            .with(RecordChanges {
                reason: Some(ReasonCode::ReviewTimedOut),
                ..Default::default()
            });
        let expired = match self.uploads.transition(&id, &transition).await {
            Ok(expired) => expired,
            // The workflow's Expire step got there first; it publishes the event itself.
            Err(UploadsError::Conflict(_)) => return Ok(()),
            Err(source) => return Err(DecisionError::Uploads { id, source }),
        };
        if let Some(event) = UploadEvent::for_record(&expired) {
            self.events
                .publish(&event)
                .await
                .map_err(|source| DecisionError::Events { id, source })?;
        }
        Ok(())
    }

    async fn record_for_decision(&self, id: UploadId) -> Result<UploadRecord, DecisionError> {
        let record = self.get_for_decision(id).await?;
        if record.status == Status::InReview && record.task_token.is_some() {
            Ok(record)
        } else {
            Err(refusal(&record))
        }
    }

    async fn get_for_decision(&self, id: UploadId) -> Result<UploadRecord, DecisionError> {
        match self.uploads.get(&id).await {
            Ok(record) => Ok(record),
            Err(UploadsError::NotFound(_)) => Err(DecisionError::NotFound(id)),
            Err(source) => Err(DecisionError::Uploads { id, source }),
        }
    }
}

enum Delivery {
    Done,
    Later,
    TaskGone,
}

/// Why a record in `status` cannot take a decision.
fn refusal(record: &UploadRecord) -> DecisionError {
    let (id, status) = (record.id, record.status);
    match status {
        Status::Decided | Status::Approved | Status::Published | Status::Declined => {
            DecisionError::AlreadyDecided { id, status }
        }
        Status::Expired => DecisionError::TimedOut { id },
        _ => DecisionError::NotInReview { id, status },
    }
}
