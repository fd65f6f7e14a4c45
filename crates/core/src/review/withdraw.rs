//! An owner taking a request back: the upload becomes `WITHDRAWN`, its files go, and a review
//! that was waiting for a moderator ends.
//!
//! Withdrawal is possible until a moderator decides: from `AWAITING_UPLOAD` (the file may not
//! have arrived), `RECEIVED` (sanitize may be running), `IN_REVIEW` and `AWAITING_SECOND` (one
//! of two required approvals is not a decision yet). It is one conditional
//! write, so it races a moderator's decision cleanly: exactly one of them moves the record
//! out of `IN_REVIEW`, and the loser is told what happened. If the pipeline moved the record
//! on between the read and the write (the file arrived, the review started), the withdrawal
//! tries again from where the record is.
//!
//! After the write, in this order, each safe to repeat:
//! 1. the files are deleted: the original, the sanitized copy and the preview;
//! 2. a review waiting for a decision is answered `{"decision": "withdraw"}`, which the
//!    workflow ends on.
//!
//! Calling it again on a `WITHDRAWN` upload repeats the clean-up (and the event), so a caller
//! whose first attempt failed half-way retries with the same request; the token is gone from
//! the record by then, so a review the first attempt could not answer ends at its timeout. Steps of the workflow that run after a
//! withdrawal (a sanitize that was in flight, or an `await_decision` that had not yet stored
//! its token) find the record `WITHDRAWN`, delete what they may have written and end the
//! workflow the same way; a file that arrives after the intent was withdrawn is deleted by
//! intake.

use serde_json::json;
use thiserror::Error;
use tracing::{info, warn};

use super::Review;
use crate::ids::{TaskToken, UploadId};
use crate::lifecycle::Advanced;
use crate::ports::{Retryable, UploadsError, WorkflowError};
use crate::record::{RecordChanges, UploadRecord};
use crate::service::StepError;
use crate::status::Status;

/// The answer a waiting `AwaitDecision` task gets when its upload is withdrawn; the ASL's
/// `Decided` choice routes it to the end.
pub const WITHDRAW_ANSWER: &str = "withdraw";

/// Reads and conditional writes one withdrawal tries: one more than the forward moves a
/// withdrawable record can make (`AWAITING_UPLOAD` → `RECEIVED` → `IN_REVIEW` →
/// `AWAITING_SECOND`).
const WITHDRAW_ATTEMPTS: usize = 4;

#[derive(Debug, Error)]
pub enum WithdrawError {
    #[error("upload {0} not found")]
    NotFound(UploadId),
    /// A moderator decided it already, or it reached a final status.
    #[error("upload {id} can no longer be withdrawn (it is {status})")]
    TooLate { id: UploadId, status: Status },
    #[error(transparent)]
    Step(#[from] StepError),
}

impl Retryable for WithdrawError {
    fn is_retryable(&self) -> bool {
        match self {
            WithdrawError::Step(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// Whether an upload in `status` can still be withdrawn.
pub fn can_withdraw(status: Status) -> bool {
    status.check_move(Status::Withdrawn).is_ok()
}

impl Review {
    /// Withdraws upload `id`; returns the record as `WITHDRAWN`. The caller has checked that
    /// the requester may.
    #[tracing::instrument(skip(self), fields(upload_id = %id))]
    pub async fn withdraw(&self, id: UploadId) -> Result<UploadRecord, WithdrawError> {
        let mut record = match self.ports.uploads.get(&id).await {
            Ok(record) => record,
            Err(UploadsError::NotFound(_)) => return Err(WithdrawError::NotFound(id)),
            Err(source) => return Err(StepError::Uploads { upload: id, source }.into()),
        };
        // The pipeline may move the record on between the read and the write (the file
        // arrives, the review starts); each such move is forward, so a few attempts always see
        // either a withdrawable status or one past a decision.
        for _ in 0..WITHDRAW_ATTEMPTS {
            // The move clears the token from the record; a review waiting on it is answered
            // below.
            let waiting_review = record.task_token.clone();
            if record.status == Status::Withdrawn {
                // A retry: the first attempt may have stopped before its event or its clean-up.
                self.lifecycle().announce(&record).await?;
                return self.clean_up(record, waiting_review).await;
            }
            if !can_withdraw(record.status) {
                break;
            }
            match self
                .lifecycle()
                .advance(&record, Status::Withdrawn, RecordChanges::default())
                .await?
            {
                Advanced::Moved(withdrawn) | Advanced::AlreadyThere(withdrawn) => {
                    return self.clean_up(withdrawn, waiting_review).await;
                }
                Advanced::Elsewhere(current) => record = current,
            }
        }
        Err(WithdrawError::TooLate {
            id,
            status: record.status,
        })
    }

    /// What follows the write: the files go, and a review waiting on `waiting_review` ends.
    async fn clean_up(
        &self,
        withdrawn: UploadRecord,
        waiting_review: Option<TaskToken>,
    ) -> Result<UploadRecord, WithdrawError> {
        self.remove_all_copies(&withdrawn).await?;
        if let Some(token) = &waiting_review {
            self.end_waiting_review(token).await;
        }
        info!("withdrawn");
        Ok(withdrawn)
    }

    /// Answers the review's `AwaitDecision` task. A failure here is not the caller's: the
    /// withdrawal is recorded, and the review ends anyway when its timeout fires (the Expire
    /// step finds the record `WITHDRAWN` and leaves it so).
    async fn end_waiting_review(&self, token: &TaskToken) {
        let answer = json!({ "decision": WITHDRAW_ANSWER });
        match self.tasks.send_task_success(token, &answer).await {
            Ok(()) | Err(WorkflowError::TaskGone) => {}
            Err(error) => {
                warn!(%error, "withdrawn; the review will end at its timeout instead");
            }
        }
    }
}
