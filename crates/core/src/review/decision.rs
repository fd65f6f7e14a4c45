//! A moderator's decision: a conditional write first, then the answer to the waiting workflow.
//!
//! `IN_REVIEW → DECIDED` records who decided what, atomically, so of two moderators exactly
//! one wins; only then is the stored task token used. If the answer cannot be delivered
//! (the workflow engine is unreachable), the decision stays recorded as `DECIDED` and
//! [`Review::redeliver_decisions`] sends it again later. If the task timed out before the
//! decision arrived, the upload is `EXPIRED` and the caller is told so; a token closed by an
//! escalation stage change is not a timeout (see `escalation.rs`: the decision is pending).
//!
//! **Four-eyes review.** Where the slot kind's policy sets `approvals_required = 2`, a first
//! approval is the write `IN_REVIEW → AWAITING_SECOND`, which records the approver and answers
//! nothing; the workflow keeps waiting on the same token. Then a different moderator's
//! approval, or a decline by anyone (the first approver included), is the `DECIDED` write.
//! The first approver approving again is refused ([`DecisionError::SameModerator`]). Two
//! moderators approving at once both count: the one whose first-approval write lost finds the
//! upload `AWAITING_SECOND` under the other's name, and its approval becomes the second.
//!
//! **Separation of duties.** Nobody decides an upload they asked for, nor one for a restaurant
//! they are a member of ([`DecisionError::ConflictOfInterest`]), whatever roles they hold.

use std::time::Duration;

use serde_json::json;
use thiserror::Error;
use tracing::{info, warn};

use super::Review;
use crate::audit::{self, AuditAction, AuditEntry};
use crate::ids::{ModeratorId, OwnerId, TaskToken, UploadId};
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
    /// Four-eyes review: the first approval is recorded (`AWAITING_SECOND`); the workflow
    /// waits for a second moderator.
    AwaitingSecond(UploadRecord),
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
    /// Four-eyes review: the moderator who gave the first approval cannot give the second.
    #[error("upload {id} already has this moderator's approval; a second moderator must decide")]
    SameModerator { id: UploadId },
    /// The moderator asked for this upload, or belongs to the restaurant it is for.
    #[error("the moderator may not decide upload {id}: it is their own or their restaurant's")]
    ConflictOfInterest { id: UploadId },
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
    /// Records `moderator`'s decision on upload `id` and answers the workflow, or, for the first
    /// of two required approvals, records it and waits for a second moderator.
    #[tracing::instrument(skip(self, moderator), fields(upload_id = %id, correlation_id))]
    pub async fn decide(
        &self,
        id: UploadId,
        moderator: ModeratorId,
        decision: Decision,
        reason: Option<DeclineReason>,
    ) -> Result<DecisionOutcome, DecisionError> {
        let mut record = self.record_for_decision(id).await?;
        record.trace_correlation();
        self.check_independence(&record, &moderator).await?;
        // At most two writes: a first approval that loses to another moderator's first approval
        // is tried once more, as the second.
        for _ in 0..2 {
            let step = self.next_step(&record, &moderator, decision)?;
            let changes = match step {
                Status::AwaitingSecond => RecordChanges {
                    first_approver: Some(moderator.clone()),
                    ..Default::default()
                },
                _ => RecordChanges {
                    moderator: Some(moderator.clone()),
                    decision: Some(decision),
                    decided_at: Some(self.ports.clock.now()),
                    decline_reason: match decision {
                        Decision::Approve => None,
                        Decision::Decline => Some(reason.unwrap_or(DeclineReason::Other)),
                    },
                    ..Default::default()
                },
            };
            // DECIDED and AWAITING_SECOND have no event of their own: the workflow's next step
            // announces the outcome.
            match self.lifecycle().advance(&record, step, changes).await? {
                Advanced::Moved(moved) if step == Status::AwaitingSecond => {
                    info!("first approval recorded; a second moderator must decide");
                    self.audit_decision(&moved, &moderator, AuditAction::FirstApproval, None)
                        .await;
                    return Ok(DecisionOutcome::AwaitingSecond(moved));
                }
                Advanced::Moved(decided) => {
                    let action = match decision {
                        Decision::Approve => AuditAction::Approve,
                        Decision::Decline => AuditAction::Decline,
                    };
                    let reason = decided.decline_reason;
                    self.audit_decision(&decided, &moderator, action, reason)
                        .await;
                    return self.answer_decision(&record, decided).await;
                }
                // A first approval won the race: this one may be the second (or, from the same
                // moderator, is refused as such).
                Advanced::AlreadyThere(current) | Advanced::Elsewhere(current)
                    if record.status == Status::InReview
                        && current.status == Status::AwaitingSecond =>
                {
                    record = current;
                }
                // Someone else decided first, even the same moderator a moment earlier (a
                // double submit): only the write that won delivers the decision.
                Advanced::AlreadyThere(current) | Advanced::Elsewhere(current) => {
                    return Err(refusal(&current));
                }
            }
        }
        Err(refusal(&record))
    }

    /// Writes the decision just recorded on `record` to the audit trail.
    async fn audit_decision(
        &self,
        record: &UploadRecord,
        moderator: &ModeratorId,
        action: AuditAction,
        reason: Option<DeclineReason>,
    ) {
        let mut entry = AuditEntry::decision(
            record.id,
            record.target.restaurant.clone(),
            record.target.slot,
            moderator,
            action,
            record.status_since,
        );
        if let Some(reason) = reason {
            let spelled = serde_json::to_value(reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned));
            entry.reason = spelled;
        }
        audit::record(self.ports.audit.as_ref(), &entry).await;
    }

    /// Where `moderator`'s `decision` takes `record`: `AWAITING_SECOND` for the first of two
    /// required approvals, else `DECIDED`.
    fn next_step(
        &self,
        record: &UploadRecord,
        moderator: &ModeratorId,
        decision: Decision,
    ) -> Result<Status, DecisionError> {
        let required = self
            .policies
            .for_kind(record.target.slot.kind())
            .approvals_required;
        match (record.status, decision) {
            (Status::AwaitingSecond, Decision::Approve)
                if record.first_approver.as_ref() == Some(moderator) =>
            {
                Err(DecisionError::SameModerator { id: record.id })
            }
            (Status::InReview, Decision::Approve) if required >= 2 => Ok(Status::AwaitingSecond),
            (Status::InReview | Status::AwaitingSecond, _) => Ok(Status::Decided),
            _ => Err(refusal(record)),
        }
    }

    /// Refuses a moderator who asked for the upload, or who belongs to its restaurant.
    async fn check_independence(
        &self,
        record: &UploadRecord,
        moderator: &ModeratorId,
    ) -> Result<(), DecisionError> {
        let conflict = || DecisionError::ConflictOfInterest { id: record.id };
        if record.owner.as_str() == moderator.as_str() {
            return Err(conflict());
        }
        let as_user = OwnerId::parse(moderator.as_str()).map_err(|_| conflict())?;
        let membership = self
            .ports
            .restaurants
            .membership(&record.target.restaurant, &as_user)
            .await
            .map_err(|source| StepError::Restaurants {
                slot: record.target.clone(),
                source,
            })?;
        match membership {
            Some(_) => Err(conflict()),
            None => Ok(()),
        }
    }

    /// Sends the recorded decision to the workflow task `before` was waiting on.
    async fn answer_decision(
        &self,
        before: &UploadRecord,
        decided: UploadRecord,
    ) -> Result<DecisionOutcome, DecisionError> {
        let token = before
            .task_token
            .clone()
            .ok_or(DecisionError::NotInReview {
                id: before.id,
                status: before.status,
            })?;
        match self.deliver(&decided, &token).await {
            Delivery::Done => Ok(DecisionOutcome::Delivered(decided)),
            Delivery::Later => Ok(DecisionOutcome::Pending(decided)),
            // Timed out, or an escalation moved the review to its next await stage.
            Delivery::TaskGone => self.after_task_gone(decided, token).await,
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

    pub(super) async fn deliver(&self, decided: &UploadRecord, token: &TaskToken) -> Delivery {
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
    pub(super) async fn expire_decided(&self, decided: &UploadRecord) -> Result<(), DecisionError> {
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
        let waiting = matches!(record.status, Status::InReview | Status::AwaitingSecond);
        if waiting && record.task_token.is_some() {
            Ok(record)
        } else {
            Err(refusal(&record))
        }
    }

    pub(super) async fn get_for_decision(
        &self,
        id: UploadId,
    ) -> Result<UploadRecord, DecisionError> {
        match self.ports.uploads.get(&id).await {
            Ok(record) => Ok(record),
            Err(UploadsError::NotFound(_)) => Err(DecisionError::NotFound(id)),
            Err(source) => Err(StepError::Uploads { upload: id, source }.into()),
        }
    }
}

pub(super) enum Delivery {
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
