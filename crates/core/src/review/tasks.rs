//! The workflow's task steps: sanitize, await a decision, publish, decline, expire, and record
//! a failure. Each returns a [`Step`]; [`Review::handle_message`] turns it into the answer.

use serde_json::{Value, json};
use tracing::{info, warn};

use super::sanitize::budget::sanitize_estimate;
use super::sanitize::sanitize;
use super::withdraw::WITHDRAW_ANSWER;
use super::{ERROR_PERMANENT, Review, TaskKind, TaskMessage, TaskOutcome};
use crate::ids::ObjectKey;
use crate::intake::quarantine;
use crate::ports::{Retryable, StoreError, WorkflowError};
use crate::reason::ReasonCode;
use crate::record::{Decision, RecordChanges, UploadRecord};
use crate::restaurant::{OfferOutcome, SlotImage};
use crate::service::StepError;
use crate::status::Status;

/// The step's answer when the record left the status the step expected while it worked.
fn moved_meanwhile(current: &UploadRecord) -> Step {
    Step::Fail(format!("upload moved to {} meanwhile", current.status))
}

/// The most of a caught error kept on a failed record.
const MAX_FAILURE_TEXT: usize = 2048;

/// What a step decided the workflow should hear.
pub(super) enum Step {
    /// Answer the task with this output.
    Answer(Value),
    /// Do not answer; a moderator will.
    Wait,
    /// The message is stale; the workflow no longer waits on it.
    Nothing,
    /// The task cannot be done; report it so the workflow records a failure.
    Fail(String),
}

impl Review {
    /// Runs one task message. `Err` means: leave the message for the queue to deliver again.
    #[tracing::instrument(skip_all, fields(upload_id, correlation_id))]
    pub async fn handle_message(&self, body: &str) -> Result<TaskOutcome, StepError> {
        let message = Self::parse_message(body)?;
        let span = tracing::Span::current();
        span.record("upload_id", tracing::field::display(message.upload_id));
        let step = match message.task {
            TaskKind::Scan => self.scan_step(&message).await,
            TaskKind::Sanitize => self.sanitize_step(&message).await,
            TaskKind::AwaitDecision => self.await_decision_step(&message).await,
            TaskKind::Publish => self.publish_step(&message).await,
            TaskKind::Decline => self.decline_step(&message).await,
            TaskKind::Expire => self.expire_step(&message).await,
            TaskKind::RecordFailure => self.record_failure_step(&message).await,
            TaskKind::Escalate => self.escalate_step(&message).await,
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

    async fn answer(&self, message: &TaskMessage, output: Value) -> Result<TaskOutcome, StepError> {
        match self
            .tasks
            .send_task_success(&message.task_token, &output)
            .await
        {
            Ok(()) => Ok(TaskOutcome::Answered(message.task)),
            Err(WorkflowError::TaskGone) => Ok(TaskOutcome::NothingToAnswer(message.task)),
            Err(source) => Err(StepError::Workflow {
                upload: message.upload_id,
                source,
            }),
        }
    }

    async fn report_failure(
        &self,
        message: &TaskMessage,
        cause: String,
    ) -> Result<TaskOutcome, StepError> {
        warn!(task = ?message.task, %cause, "task failed permanently");
        match self
            .tasks
            .send_task_failure(&message.task_token, ERROR_PERMANENT, &cause)
            .await
        {
            Ok(()) => Ok(TaskOutcome::ReportedFailure {
                task: message.task,
                cause,
            }),
            Err(WorkflowError::TaskGone) => Ok(TaskOutcome::NothingToAnswer(message.task)),
            Err(source) => Err(StepError::Workflow {
                upload: message.upload_id,
                source,
            }),
        }
    }

    async fn sanitize_step(&self, message: &TaskMessage) -> Result<Step, StepError> {
        let record = self.get(&message.upload_id).await?;
        match record.status {
            Status::Received => {}
            Status::Rejected => {
                // An earlier attempt may have died between the verdict, its event and the
                // quarantine; both are safe to repeat.
                self.lifecycle().announce(&record).await?;
                quarantine(self.objects(), &record).await?;
                return Ok(Step::Answer(rejected_answer(record.reason)));
            }
            Status::InReview
            | Status::AwaitingSecond
            | Status::Decided
            | Status::Approved
            | Status::Published => {
                return Ok(Step::Answer(json!({ "verdict": "clean" })));
            }
            Status::Withdrawn => {
                let answer = json!({ "verdict": "withdrawn" });
                return self.end_withdrawn(&record, answer).await;
            }
            other => return Ok(Step::Fail(format!("upload is {other}, not RECEIVED"))),
        }
        let policy = self.policies.for_kind(record.target.slot.kind()).clone();
        // The size intake recorded is the size of the write it examined, the one read here.
        let verdict = if record.bytes.is_some_and(|size| size > policy.max_bytes) {
            Err(ReasonCode::TooLarge)
        } else {
            let expected = record.detected_type.unwrap_or(record.declared_type);
            let need = sanitize_estimate(
                record.bytes.unwrap_or(policy.max_bytes),
                record.width.zip(record.height),
                expected,
                self.max_decode_alloc,
            );
            // Held until the copy is encoded; waits while other sanitizes hold the budget.
            let _memory = self.memory.reserve(need).await;
            let bytes = match self.examined_bytes(&record).await? {
                Ok(bytes) => bytes,
                Err(step) => return Ok(step),
            };
            if let Some(step) = self.check_content(&record, &bytes).await? {
                return Ok(step);
            }
            let max_alloc = self.max_decode_alloc;
            // Decoding is CPU-bound for up to seconds: keep it off the async executor.
            let started = std::time::Instant::now();
            let verdict =
                tokio::task::spawn_blocking(move || sanitize(&bytes, expected, &policy, max_alloc))
                    .await
                    .map_err(|_| StepError::SanitizerCrashed { upload: record.id })?;
            let outcome = match &verdict {
                Ok(_) => "clean",
                Err(ReasonCode::ReencodedTooLarge) => "too_large",
                Err(_) => "rejected",
            };
            crate::metrics::sanitize(outcome, started.elapsed());
            verdict
        };
        let clean = match verdict {
            Ok(clean) => clean,
            Err(ReasonCode::ReencodedTooLarge) => return self.fail_too_large(&record).await,
            Err(reason) => return self.reject_after_sanitize(&record, reason).await,
        };
        let (sanitized, preview) = (
            ObjectKey::sanitized(&record.id),
            ObjectKey::preview(&record.id),
        );
        self.objects()
            .put(&sanitized, clean.bytes.into(), clean.image_type.mime())
            .await
            .map_err(|source| StepError::store(&sanitized, source))?;
        self.objects()
            .put(&preview, clean.preview.into(), "image/webp")
            .await
            .map_err(|source| StepError::store(&preview, source))?;
        info!(
            width = clean.width,
            height = clean.height,
            quality = clean.quality,
            profile = ?clean.profile,
            "sanitized"
        );
        Ok(Step::Answer(json!({
            "verdict": "clean",
            "width": clean.width,
            "height": clean.height,
        })))
    }

    pub(super) async fn reject_after_sanitize(
        &self,
        record: &UploadRecord,
        reason: ReasonCode,
    ) -> Result<Step, StepError> {
        self.reject(record, reason, None, "sanitize refused the image")
            .await
    }

    /// `REJECTED` with `reason` (and `failure`, the refusal's detail, when there is one), the
    /// object quarantined; the workflow hears `rejected`. `refused` is the log line.
    pub(super) async fn reject(
        &self,
        record: &UploadRecord,
        reason: ReasonCode,
        failure: Option<String>,
        refused: &'static str,
    ) -> Result<Step, StepError> {
        let changes = RecordChanges {
            reason: Some(reason),
            failure: failure.clone(),
            ..Default::default()
        };
        let advanced = self
            .lifecycle()
            .advance(record, Status::Rejected, changes)
            .await?;
        let rejected = match advanced.reached() {
            Ok(rejected) => rejected,
            Err(current) => return Ok(moved_meanwhile(&current)),
        };
        quarantine(self.objects(), &rejected).await?;
        warn!(%reason, failure, "{refused}");
        Ok(Step::Answer(rejected_answer(Some(reason))))
    }

    /// `FAILED` with `reason` and `failure` (not the uploader's fault; redrivable). The workflow
    /// then hears a permanent failure with `cause`; its `RecordFailure` finds the record
    /// `FAILED` already and keeps the reason. `failed` is the log line.
    pub(super) async fn fail(
        &self,
        record: &UploadRecord,
        reason: ReasonCode,
        failure: String,
        cause: String,
        failed: &'static str,
    ) -> Result<Step, StepError> {
        let changes = RecordChanges {
            reason: Some(reason),
            failure: Some(failure.clone()),
            ..Default::default()
        };
        let advanced = self
            .lifecycle()
            .advance(record, Status::Failed, changes)
            .await?;
        if let Err(current) = advanced.reached() {
            return Ok(moved_meanwhile(&current));
        }
        warn!(%reason, failure, "{failed}");
        Ok(Step::Fail(cause))
    }

    /// The upload was within the limit but its re-encoded copy is not: not the uploader's
    /// doing, so `FAILED` (redrivable once the limit is raised) with its own reason, not
    /// `REJECTED`.
    async fn fail_too_large(&self, record: &UploadRecord) -> Result<Step, StepError> {
        let reason = ReasonCode::ReencodedTooLarge;
        self.fail(
            record,
            reason,
            reason.describe().to_owned(),
            reason.to_string(),
            "the sanitized copy is over the size limit",
        )
        .await
    }

    async fn await_decision_step(&self, message: &TaskMessage) -> Result<Step, StepError> {
        let record = self.get(&message.upload_id).await?;
        if message.stage > 0 {
            return self.await_later_stage(&record, message).await;
        }
        let in_review = match record.status {
            Status::Received => {
                let changes = RecordChanges {
                    task_token: Some(message.task_token.clone()),
                    escalation_levels: Some(message.escalation_levels),
                    ..Default::default()
                };
                let advanced = self
                    .lifecycle()
                    .advance(&record, Status::InReview, changes)
                    .await?;
                match advanced.reached() {
                    Ok(in_review) => in_review,
                    Err(_) => return Ok(Step::Nothing),
                }
            }
            Status::InReview | Status::AwaitingSecond
                if record.task_token.as_ref() == Some(&message.task_token) =>
            {
                // A redelivery: the first attempt may have died before announcing the review.
                self.lifecycle().announce(&record).await?;
                record
            }
            // Withdrawn before this step could store its token: nobody else can answer it.
            Status::Withdrawn => {
                let answer = json!({ "decision": WITHDRAW_ANSWER });
                return self.end_withdrawn(&record, answer).await;
            }
            _ => return Ok(Step::Nothing),
        };
        if in_review.task_token.as_ref() != Some(&message.task_token) {
            warn!("a different task token is stored; this message is stale");
            return Ok(Step::Nothing);
        }
        if let Some(step) = self.reuse_decision(&in_review).await? {
            return Ok(step);
        }
        Ok(Step::Wait)
    }

    async fn publish_step(&self, message: &TaskMessage) -> Result<Step, StepError> {
        let record = self.get(&message.upload_id).await?;
        let approved = match record.status {
            Status::Decided if record.decision == Some(Decision::Approve) => {
                match self.move_on(&record, Status::Approved).await? {
                    Ok(approved) => approved,
                    Err(fail) => return Ok(fail),
                }
            }
            Status::Approved => {
                self.lifecycle().announce(&record).await?;
                record
            }
            Status::Published => {
                // An earlier attempt may have died before the event or the clean-up.
                self.lifecycle().announce(&record).await?;
                self.delete(&record.key).await?;
                return Ok(Step::Answer(json!({ "status": "PUBLISHED" })));
            }
            other => {
                return Ok(Step::Fail(format!(
                    "upload is {other}; only an approved decision is published"
                )));
            }
        };
        let image_type = approved.detected_type.unwrap_or(approved.declared_type);
        let (from, to) = (
            ObjectKey::sanitized(&approved.id),
            ObjectKey::published(&approved.target, &approved.id),
        );
        let copied = match self.objects().copy(&from, &to, image_type.mime()).await {
            Ok(meta) => meta,
            Err(StoreError::NotFound(_)) => {
                return Ok(Step::Fail("the sanitized copy is missing".to_owned()));
            }
            Err(source) => return Err(StepError::store(&to, source)),
        };
        let image = SlotImage {
            upload: approved.id,
            key: to,
            image_type,
            width: approved.width.unwrap_or_default(),
            height: approved.height.unwrap_or_default(),
            bytes: copied.size,
            decided_at: approved.decided_at.unwrap_or(approved.status_since),
            published_at: self.ports.clock.now(),
        };
        self.offer_to_slot(&approved, &image).await?;
        let published = match self.move_on(&approved, Status::Published).await? {
            Ok(published) => published,
            Err(fail) => return Ok(fail),
        };
        self.delete(&published.key).await?;
        info!("published");
        Ok(Step::Answer(json!({ "status": "PUBLISHED" })))
    }

    /// Records the image in its slot's history and makes it live unless a later decision is;
    /// announces `slot.changed` when it is live. Safe to repeat: the offer is idempotent and
    /// the event's id names the slot's revision.
    async fn offer_to_slot(
        &self,
        record: &UploadRecord,
        image: &SlotImage,
    ) -> Result<(), StepError> {
        let outcome = self
            .ports
            .restaurants
            .offer(&record.target, image)
            .await
            .map_err(|source| StepError::Restaurants {
                slot: record.target.clone(),
                source,
            })?;
        match outcome {
            OfferOutcome::BecameLive(state) | OfferOutcome::AlreadyLive(state) => {
                info!(slot = %record.target, revision = state.revision, "now live");
                self.lifecycle().announce_slot(&state).await
            }
            OfferOutcome::Superseded(state) => {
                info!(
                    slot = %record.target,
                    live = ?state.live.map(|live| live.upload),
                    "a later decision is live; this image is kept as history"
                );
                Ok(())
            }
        }
    }

    async fn decline_step(&self, message: &TaskMessage) -> Result<Step, StepError> {
        let record = self.get(&message.upload_id).await?;
        let declined = match record.status {
            Status::Decided if record.decision == Some(Decision::Decline) => {
                match self.move_on(&record, Status::Declined).await? {
                    Ok(declined) => declined,
                    Err(fail) => return Ok(fail),
                }
            }
            Status::Declined => {
                self.lifecycle().announce(&record).await?;
                record
            }
            other => {
                return Ok(Step::Fail(format!(
                    "upload is {other}; only a declining decision is declined"
                )));
            }
        };
        self.remove_all_copies(&declined).await?;
        Ok(Step::Answer(json!({ "status": "DECLINED" })))
    }

    async fn expire_step(&self, message: &TaskMessage) -> Result<Step, StepError> {
        let record = self.get(&message.upload_id).await?;
        let expired = match record.status {
            Status::InReview | Status::AwaitingSecond | Status::Decided => {
                let changes = RecordChanges {
                    reason: Some(ReasonCode::ReviewTimedOut),
                    ..Default::default()
                };
                let advanced = self
                    .lifecycle()
                    .advance(&record, Status::Expired, changes)
                    .await?;
                match advanced.reached() {
                    Ok(expired) => expired,
                    Err(current) => {
                        return Ok(Step::Fail(format!("upload moved to {}", current.status)));
                    }
                }
            }
            Status::Expired => {
                self.lifecycle().announce(&record).await?;
                record
            }
            // The withdrawal could not answer the review, so it waited until its timeout.
            Status::Withdrawn => {
                self.remove_all_copies(&record).await?;
                return Ok(Step::Answer(json!({ "status": "WITHDRAWN" })));
            }
            other => return Ok(Step::Fail(format!("upload is {other}; it cannot expire"))),
        };
        self.remove_all_copies(&expired).await?;
        Ok(Step::Answer(json!({ "status": "EXPIRED" })))
    }

    /// A step found its upload withdrawn: it deletes whatever an earlier step in flight may
    /// have written since the withdrawal, and gives `answer`, which the workflow ends on.
    pub(super) async fn end_withdrawn(
        &self,
        record: &UploadRecord,
        answer: Value,
    ) -> Result<Step, StepError> {
        self.remove_all_copies(record).await?;
        info!("withdrawn; ending the review");
        Ok(Step::Answer(answer))
    }

    async fn record_failure_step(&self, message: &TaskMessage) -> Result<Step, StepError> {
        let record = self.get(&message.upload_id).await?;
        if record.status.is_final() || record.status == Status::Failed {
            if record.status == Status::Failed {
                self.lifecycle().announce(&record).await?;
            }
            return Ok(Step::Answer(json!({ "status": record.status })));
        }
        let mut failure = message
            .error
            .as_ref()
            .map_or_else(|| "unknown error".to_owned(), Value::to_string);
        truncate_at_char_boundary(&mut failure, MAX_FAILURE_TEXT);
        // The scan task never answered: the upload is unscanned, which has its own reason.
        let reason = match message.error.as_ref().and_then(|e| e.get("Error")) {
            Some(Value::String(name)) if name == super::SCAN_NO_ANSWER => ReasonCode::ScanFailed,
            _ => ReasonCode::ProcessingFailed,
        };
        let changes = RecordChanges {
            reason: Some(reason),
            failure: Some(failure),
            ..Default::default()
        };
        let advanced = self
            .lifecycle()
            .advance(&record, Status::Failed, changes)
            .await?;
        let status = match advanced.reached() {
            Ok(failed) | Err(failed) => failed.status,
        };
        Ok(Step::Answer(json!({ "status": status })))
    }

    /// A move with no field changes that only this step makes: anywhere else means the
    /// workflow and the record disagree, which the workflow records as a failure.
    async fn move_on(
        &self,
        record: &UploadRecord,
        to: Status,
    ) -> Result<Result<UploadRecord, Step>, StepError> {
        let advanced = self
            .lifecycle()
            .advance(record, to, RecordChanges::default())
            .await?;
        Ok(advanced
            .reached()
            .map_err(|current| Step::Fail(format!("upload moved to {}", current.status))))
    }

    /// The bytes of exactly the write intake examined (its recorded version), or what to answer
    /// instead: the object is gone, or another write replaced it and the examined one cannot be
    /// read any more (then the upload is refused: nothing unexamined is published).
    pub(super) async fn examined_bytes(
        &self,
        record: &UploadRecord,
    ) -> Result<Result<bytes::Bytes, Step>, StepError> {
        let read = match &record.object_version {
            Some(version) => self.objects().get_version(&record.key, version).await,
            // Claimed before versions were recorded: the latest write is all there is to read.
            None => self.objects().get(&record.key).await,
        };
        match read {
            Ok(bytes) => Ok(Ok(bytes)),
            Err(StoreError::NotFound(_)) => {
                Ok(Err(Step::Fail("the uploaded object is gone".to_owned())))
            }
            Err(StoreError::VersionGone { .. }) => {
                warn!("the examined write was replaced before sanitize could read it");
                self.reject_after_sanitize(record, ReasonCode::ObjectReplaced)
                    .await
                    .map(Err)
            }
            Err(source) => Err(StepError::store(&record.key, source)),
        }
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StepError> {
        self.objects()
            .delete(key)
            .await
            .map_err(|source| StepError::store(key, source))
    }

    /// A declined, expired or withdrawn upload keeps nothing: original, sanitized copy and
    /// preview go.
    pub(super) async fn remove_all_copies(&self, record: &UploadRecord) -> Result<(), StepError> {
        for key in [
            record.key.clone(),
            ObjectKey::sanitized(&record.id),
            ObjectKey::preview(&record.id),
        ] {
            self.delete(&key).await?;
        }
        Ok(())
    }
}

pub(super) fn rejected_answer(reason: Option<ReasonCode>) -> Value {
    json!({ "verdict": "rejected", "reason": reason })
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
