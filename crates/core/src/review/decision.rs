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
use crate::ids::{ModeratorId, TaskToken, UploadId};
use crate::lifecycle::Advanced;
use crate::ports::{PageRequest, Retryable, UploadsError, WorkflowError};
use crate::reason::ReasonCode;
use crate::record::{Decision, DeclineReason, RecordChanges, UploadRecord};
use crate::service::StepError;
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
    /// The record store or the event sink failed; the decision may not be recorded.
    #[error(transparent)]
    Step(#[from] StepError),
}

impl Retryable for DecisionError {
    fn is_retryable(&self) -> bool {
        match self {
            DecisionError::Step(e) => e.is_retryable(),
            _ => false,
        }
    }
}

impl Review {
    /// Records `moderator`'s decision on upload `id` and answers the workflow.
    #[tracing::instrument(skip(self, moderator), fields(upload_id = %id, correlation_id))]
    pub async fn decide(
        &self,
        id: UploadId,
        moderator: ModeratorId,
        decision: Decision,
        reason: Option<DeclineReason>,
    ) -> Result<DecisionOutcome, DecisionError> {
        let record = self.record_for_decision(id).await?;
        record.trace_correlation();
        let changes = RecordChanges {
            moderator: Some(moderator),
            decision: Some(decision),
            decided_at: Some(self.ports.clock.now()),
            decline_reason: match decision {
                Decision::Approve => None,
                Decision::Decline => Some(reason.unwrap_or(DeclineReason::Other)),
            },
            ..Default::default()
        };
        // DECIDED has no event of its own: the workflow's next step announces the outcome.
        let decided = match self
            .lifecycle()
            .advance(&record, Status::Decided, changes)
            .await?
        {
            Advanced::Moved(decided) => decided,
            // Someone else decided first, even the same moderator a moment earlier (a double
            // submit): only the write that won delivers the decision.
            Advanced::AlreadyThere(current) | Advanced::Elsewhere(current) => {
                return Err(refusal(&current));
            }
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
        let now = self.ports.clock.now();
        let mut page = PageRequest::first(100);
        let mut delivered = 0;
        loop {
            let batch = self
                .ports
                .uploads
                .list_by_status(Status::Decided, &page)
                .await
                .map_err(|source| StepError::Listing { source })?;
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
        match self.tasks.send_task_success(token, &output).await {
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

    /// The task timed out before the decision reached it: the upload expires. If the
    /// workflow's own Expire step got there first, this only announces the event again.
    async fn expire_decided(&self, decided: &UploadRecord) -> Result<(), DecisionError> {
        let changes = RecordChanges {
            reason: Some(ReasonCode::ReviewTimedOut),
            ..Default::default()
        };
        self.lifecycle()
            .advance(decided, Status::Expired, changes)
            .await?;
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
        match self.ports.uploads.get(&id).await {
            Ok(record) => Ok(record),
            Err(UploadsError::NotFound(_)) => Err(DecisionError::NotFound(id)),
            Err(source) => Err(StepError::Uploads { upload: id, source }.into()),
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
