//! The workflow's task steps: sanitize, await a decision, publish, decline, expire, and record
//! a failure. Each returns a [`Step`]; [`Review::handle_message`] turns it into the answer.

use serde_json::{Value, json};
use tracing::{info, warn};

use super::sanitize::sanitize;
use super::{ERROR_PERMANENT, Review, TaskError, TaskKind, TaskMessage, TaskOutcome};
use crate::ids::{ObjectKey, UploadId};
use crate::intake::quarantine;
use crate::ports::{ObjectMeta, Retryable, StoreError, UploadsError, WorkflowError};
use crate::reason::ReasonCode;
use crate::record::{Decision, RecordChanges, Transition, UploadRecord};
use crate::status::Status;

/// The most of a caught error kept on a failed record.
const MAX_FAILURE_TEXT: usize = 2048;

/// What a step decided the workflow should hear.
enum Step {
    /// Answer the task with this output.
    Answer(Value),
    /// Do not answer; a moderator will.
    Wait,
    /// The message is stale; the workflow no longer waits on it.
    Nothing,
    /// The task cannot be done; report it so the workflow records a failure.
    Fail(String),
}

/// Where a conditional move left the record.
enum Moved {
    /// This call moved it, or an earlier attempt of the same step did.
    To(UploadRecord),
    /// It is somewhere else: another step or decision got there first.
    Elsewhere(UploadRecord),
}

impl Review {
    /// Runs one task message. `Err` means: leave the message for the queue to deliver again.
    #[tracing::instrument(skip_all, fields(upload_id))]
    pub async fn handle_message(&self, body: &str) -> Result<TaskOutcome, TaskError> {
        let message = Self::parse_message(body)?;
        let span = tracing::Span::current();
        span.record("upload_id", tracing::field::display(message.upload_id));
        let step = match message.task {
            TaskKind::Sanitize => self.sanitize_step(&message).await,
            TaskKind::AwaitDecision => self.await_decision_step(&message).await,
            TaskKind::Publish => self.publish_step(&message).await,
            TaskKind::Decline => self.decline_step(&message).await,
            TaskKind::Expire => self.expire_step(&message).await,
            TaskKind::RecordFailure => self.record_failure_step(&message).await,
        };
        match step {
            Ok(Step::Answer(output)) => self.answer(&message, output).await,
            Ok(Step::Wait) => Ok(TaskOutcome::AwaitingModerator),
            Ok(Step::Nothing) => Ok(TaskOutcome::NothingToAnswer(message.task)),
            Ok(Step::Fail(cause)) => self.report_failure(&message, cause).await,
            Err(error) if !error.is_retryable() => {
                self.report_failure(&message, error.to_string()).await
            }
            Err(error) => Err(error),
        }
    }

    async fn answer(&self, message: &TaskMessage, output: Value) -> Result<TaskOutcome, TaskError> {
        match self
            .workflow
            .send_task_success(&message.task_token, &output)
            .await
        {
            Ok(()) => Ok(TaskOutcome::Answered(message.task)),
            Err(WorkflowError::TaskGone) => Ok(TaskOutcome::NothingToAnswer(message.task)),
            Err(source) => Err(TaskError::Workflow {
                upload: message.upload_id,
                source,
            }),
        }
    }

    async fn report_failure(
        &self,
        message: &TaskMessage,
        cause: String,
    ) -> Result<TaskOutcome, TaskError> {
        warn!(task = ?message.task, %cause, "task failed permanently");
        match self
            .workflow
            .send_task_failure(&message.task_token, ERROR_PERMANENT, &cause)
            .await
        {
            Ok(()) => Ok(TaskOutcome::ReportedFailure {
                task: message.task,
                cause,
            }),
            Err(WorkflowError::TaskGone) => Ok(TaskOutcome::NothingToAnswer(message.task)),
            Err(source) => Err(TaskError::Workflow {
                upload: message.upload_id,
                source,
            }),
        }
    }

    async fn sanitize_step(&self, message: &TaskMessage) -> Result<Step, TaskError> {
        let record = self.get(&message.upload_id).await?;
        match record.status {
            Status::Received => {}
            Status::Rejected => {
                // An earlier attempt may have died between the verdict, its event and the
                // quarantine; both are safe to repeat.
                self.publish_event(&record).await?;
                quarantine(self.objects.as_ref(), &record)
                    .await
                    .map_err(|(_, source)| store_error(record.id, source))?;
                return Ok(Step::Answer(rejected_answer(record.reason)));
            }
            Status::InReview | Status::Decided | Status::Approved | Status::Published => {
                return Ok(Step::Answer(json!({ "verdict": "clean" })));
            }
            other => return Ok(Step::Fail(format!("upload is {other}, not RECEIVED"))),
        }
        let meta = match self.head(&record.id, &record.key).await? {
            Some(meta) => meta,
            None => return Ok(Step::Fail("the uploaded object is gone".to_owned())),
        };
        let verdict = if meta.size > self.policy.max_bytes {
            Err(ReasonCode::TooLarge)
        } else {
            let bytes = match self.objects.get(&record.key).await {
                Ok(bytes) => bytes,
                Err(StoreError::NotFound(_)) => {
                    return Ok(Step::Fail("the uploaded object is gone".to_owned()));
                }
                Err(source) => return Err(store_error(record.id, source)),
            };
            let expected = record.detected_type.unwrap_or(record.declared_type);
            let (policy, max_alloc) = (self.policy.clone(), self.max_decode_alloc);
            // Decoding is CPU-bound for up to seconds: keep it off the async executor.
            tokio::task::spawn_blocking(move || sanitize(&bytes, expected, &policy, max_alloc))
                .await
                .map_err(|_| TaskError::SanitizerCrashed { upload: record.id })?
        };
        let clean = match verdict {
            Ok(clean) => clean,
            Err(reason) => return self.reject_after_sanitize(record, reason).await,
        };
        let (sanitized, preview) = (
            ObjectKey::sanitized(&record.id),
            ObjectKey::preview(&record.id),
        );
        self.objects
            .put(&sanitized, clean.bytes.into(), clean.image_type.mime())
            .await
            .map_err(|source| store_error(record.id, source))?;
        self.objects
            .put(&preview, clean.preview.into(), "image/webp")
            .await
            .map_err(|source| store_error(record.id, source))?;
        info!(width = clean.width, height = clean.height, "sanitized");
        Ok(Step::Answer(json!({
            "verdict": "clean",
            "width": clean.width,
            "height": clean.height,
        })))
    }

    async fn reject_after_sanitize(
        &self,
        record: UploadRecord,
        reason: ReasonCode,
    ) -> Result<Step, TaskError> {
        let changes = RecordChanges {
            reason: Some(reason),
            ..Default::default()
        };
        let rejected = match self.advance(&record, Status::Rejected, changes).await? {
            Moved::To(rejected) => rejected,
            Moved::Elsewhere(current) => {
                return Ok(Step::Fail(format!(
                    "upload moved to {} meanwhile",
                    current.status
                )));
            }
        };
        self.publish_event(&rejected).await?;
        quarantine(self.objects.as_ref(), &rejected)
            .await
            .map_err(|(_, source)| store_error(rejected.id, source))?;
        warn!(%reason, "sanitize refused the image");
        Ok(Step::Answer(rejected_answer(Some(reason))))
    }

    async fn await_decision_step(&self, message: &TaskMessage) -> Result<Step, TaskError> {
        let record = self.get(&message.upload_id).await?;
        let in_review = match record.status {
            Status::Received => {
                let changes = RecordChanges {
                    task_token: Some(message.task_token.clone()),
                    ..Default::default()
                };
                match self.advance(&record, Status::InReview, changes).await? {
                    Moved::To(in_review) => in_review,
                    Moved::Elsewhere(_) => return Ok(Step::Nothing),
                }
            }
            Status::InReview => record,
            _ => return Ok(Step::Nothing),
        };
        if in_review.task_token.as_ref() != Some(&message.task_token) {
            warn!("a different task token is stored; this message is stale");
            return Ok(Step::Nothing);
        }
        // Published again on a redelivery: the first attempt may have died before publishing.
        self.publish_event(&in_review).await?;
        Ok(Step::Wait)
    }

    async fn publish_step(&self, message: &TaskMessage) -> Result<Step, TaskError> {
        let record = self.get(&message.upload_id).await?;
        let approved = match record.status {
            Status::Decided if record.decision == Some(Decision::Approve) => {
                match self
                    .advance(&record, Status::Approved, RecordChanges::default())
                    .await?
                {
                    Moved::To(approved) => approved,
                    Moved::Elsewhere(current) => {
                        return Ok(Step::Fail(format!("upload moved to {}", current.status)));
                    }
                }
            }
            Status::Approved => record,
            Status::Published => {
                // An earlier attempt may have died before the event or the clean-up.
                self.publish_event(&record).await?;
                self.delete(&record.id, &record.key).await?;
                return Ok(Step::Answer(json!({ "status": "PUBLISHED" })));
            }
            other => {
                return Ok(Step::Fail(format!(
                    "upload is {other}; only an approved decision is published"
                )));
            }
        };
        self.publish_event(&approved).await?;
        let content_type = approved
            .detected_type
            .unwrap_or(approved.declared_type)
            .mime();
        let (from, to) = (
            ObjectKey::sanitized(&approved.id),
            ObjectKey::published(&approved.id),
        );
        match self.objects.copy(&from, &to, content_type).await {
            Ok(_) => {}
            Err(StoreError::NotFound(_)) => {
                return Ok(Step::Fail("the sanitized copy is missing".to_owned()));
            }
            Err(source) => return Err(store_error(approved.id, source)),
        }
        let published = match self
            .advance(&approved, Status::Published, RecordChanges::default())
            .await?
        {
            Moved::To(published) => published,
            Moved::Elsewhere(current) => {
                return Ok(Step::Fail(format!("upload moved to {}", current.status)));
            }
        };
        self.publish_event(&published).await?;
        self.delete(&published.id, &published.key).await?;
        info!("published");
        Ok(Step::Answer(json!({ "status": "PUBLISHED" })))
    }

    async fn decline_step(&self, message: &TaskMessage) -> Result<Step, TaskError> {
        let record = self.get(&message.upload_id).await?;
        let declined = match record.status {
            Status::Decided if record.decision == Some(Decision::Decline) => {
                match self
                    .advance(&record, Status::Declined, RecordChanges::default())
                    .await?
                {
                    Moved::To(declined) => declined,
                    Moved::Elsewhere(current) => {
                        return Ok(Step::Fail(format!("upload moved to {}", current.status)));
                    }
                }
            }
            Status::Declined => record,
            other => {
                return Ok(Step::Fail(format!(
                    "upload is {other}; only a declining decision is declined"
                )));
            }
        };
        self.publish_event(&declined).await?;
        self.remove_all_copies(&declined).await?;
        Ok(Step::Answer(json!({ "status": "DECLINED" })))
    }

    async fn expire_step(&self, message: &TaskMessage) -> Result<Step, TaskError> {
        let record = self.get(&message.upload_id).await?;
        let expired = match record.status {
            Status::InReview | Status::Decided => {
                let changes = RecordChanges {
                    reason: Some(ReasonCode::ReviewTimedOut),
                    ..Default::default()
                };
                match self.advance(&record, Status::Expired, changes).await? {
                    Moved::To(expired) => expired,
                    Moved::Elsewhere(current) => {
                        return Ok(Step::Fail(format!("upload moved to {}", current.status)));
                    }
                }
            }
            Status::Expired => record,
            other => return Ok(Step::Fail(format!("upload is {other}; it cannot expire"))),
        };
        self.publish_event(&expired).await?;
        self.remove_all_copies(&expired).await?;
        Ok(Step::Answer(json!({ "status": "EXPIRED" })))
    }

    async fn record_failure_step(&self, message: &TaskMessage) -> Result<Step, TaskError> {
        let record = self.get(&message.upload_id).await?;
        if record.status.is_final() || record.status == Status::Failed {
            if record.status == Status::Failed {
                self.publish_event(&record).await?;
            }
            return Ok(Step::Answer(json!({ "status": record.status })));
        }
        let mut failure = message
            .error
            .as_ref()
            .map_or_else(|| "unknown error".to_owned(), Value::to_string);
        truncate_at_char_boundary(&mut failure, MAX_FAILURE_TEXT);
        let changes = RecordChanges {
            reason: Some(ReasonCode::ProcessingFailed),
            failure: Some(failure),
            ..Default::default()
        };
        let failed = match self.advance(&record, Status::Failed, changes).await? {
            Moved::To(failed) => failed,
            Moved::Elsewhere(current) => {
                return Ok(Step::Answer(json!({ "status": current.status })));
            }
        };
        self.publish_event(&failed).await?;
        Ok(Step::Answer(json!({ "status": "FAILED" })))
    }

    /// Moves `record` from its status to `to`. A conflict is resolved by reading the record:
    /// already at `to` (an earlier attempt of the same step) counts as moved.
    async fn advance(
        &self,
        record: &UploadRecord,
        to: Status,
        changes: RecordChanges,
    ) -> Result<Moved, TaskError> {
        let transition = Transition::new(record.status, to, self.clock.now())
            .unwrap_or_else(|e| unreachable!("review steps only make allowed moves: {e}"))
            .with(changes);
        match self.uploads.transition(&record.id, &transition).await {
            Ok(moved) => Ok(Moved::To(moved)),
            Err(UploadsError::Conflict(_)) => {
                let current = self.get(&record.id).await?;
                Ok(if current.status == to {
                    Moved::To(current)
                } else {
                    Moved::Elsewhere(current)
                })
            }
            Err(source) => Err(TaskError::Uploads {
                upload: record.id,
                source,
            }),
        }
    }

    async fn head(
        &self,
        upload: &UploadId,
        key: &ObjectKey,
    ) -> Result<Option<ObjectMeta>, TaskError> {
        match self.objects.head(key).await {
            Ok(meta) => Ok(Some(meta)),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(source) => Err(store_error(*upload, source)),
        }
    }

    async fn delete(&self, upload: &UploadId, key: &ObjectKey) -> Result<(), TaskError> {
        self.objects
            .delete(key)
            .await
            .map_err(|source| store_error(*upload, source))
    }

    /// A declined or expired upload keeps nothing: original, sanitized copy and preview go.
    async fn remove_all_copies(&self, record: &UploadRecord) -> Result<(), TaskError> {
        for key in [
            record.key.clone(),
            ObjectKey::sanitized(&record.id),
            ObjectKey::preview(&record.id),
        ] {
            self.delete(&record.id, &key).await?;
        }
        Ok(())
    }
}

fn rejected_answer(reason: Option<ReasonCode>) -> Value {
    json!({ "verdict": "rejected", "reason": reason })
}

fn store_error(upload: UploadId, source: StoreError) -> TaskError {
    TaskError::Store { upload, source }
}

fn truncate_at_char_boundary(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}
