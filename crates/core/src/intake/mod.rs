//! The intake service: turns a bucket notification into a verdict, and a plausible image into
//! a review workflow. The Lambda function and the local worker loops both call it.
//!
//! Every step is safe to repeat, because SQS delivers at least once and a worker may die
//! between any two steps:
//! - reading (HEAD, ranged GET, the gate) has no effect, and the gate is deterministic;
//! - `AWAITING_UPLOAD → RECEIVED` is a conditional write, so of many deliveries one claims the
//!   upload, and the others — or a redelivery after a crash — resume from `RECEIVED`;
//! - the workflow execution's name is derived from (upload, object version), so starting it
//!   again is `AlreadyStarted`, never a second review;
//! - events are re-published on resume with the same id, so none is lost and duplicates are
//!   recognisable.
//!
//! A review start that the workflow engine throttles is deferred, not failed: the notification
//! of the throttled records goes back to intake's own queue with a growing delay, the
//! original is acknowledged, and the upload waits in `RECEIVED` (see [`defer`]). So a burst
//! beyond Step Functions' `StartExecution` rate never reaches the dead-letter queue.
//!
//! An event whose object has since been replaced (another write to the same key) is stale and
//! does nothing: the newer write brings its own event.
//!
//! The version `head` reports is the one examined, recorded and read later: the gate's ranged
//! reads are of that version, and sanitize reads it by the recorded version. A write to the key
//! after the upload was claimed (a second racing write, or a presigned POST replayed within
//! its expiry, even after a final status) is deleted, and only that write: the examined bytes
//! stay readable on a store that keeps versions, and a quarantined copy is never overwritten.

pub mod defer;
mod redrive;
pub mod s3_event;
mod sweep;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::ids::{ExecutionName, KeyKind, ObjectKey, UploadId};
use crate::inspect::{Verdict, run_gate};
use crate::lifecycle::Lifecycle;
use crate::policy::SlotPolicies;
use crate::ports::{
    BackendError, ObjectMeta, ObjectStore, ReviewStart, ReviewStarter, StartOutcome, StoreError,
    UploadsError, WorkflowError,
};
use crate::reason::ReasonCode;
use crate::record::{RecordChanges, UploadRecord};
use crate::restaurant::SlotRef;
use crate::review::EscalationShares;
use crate::service::{Ports, QueueService, StepError};
use crate::status::Status;

pub use defer::Deferral;
pub use redrive::{RedriveOutcome, is_not_found, redrive_execution_name};
pub use s3_event::{Notification, NotificationError, ObjectCreated, parse_notification};
pub use sweep::SweepReport;

/// Content type given to quarantined copies: never served as what they claim to be.
const QUARANTINE_CONTENT_TYPE: &str = "application/octet-stream";

/// What intake did with one object event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The notification that S3 sends when it is configured.
    TestEvent,
    /// A key that is not under `incoming/`, or belongs to another bucket: left alone.
    Ignored { key: String, why: &'static str },
    /// A key under `incoming/` that Vetted never issued: the object was deleted.
    StrayDeleted { key: String },
    /// A well-formed key with no intent behind it: the object was deleted.
    UnknownUploadDeleted { key: ObjectKey },
    /// The object arrived after its intent expired: the record is `EXPIRED`, the object deleted.
    IntentExpired { upload: UploadId },
    /// The upload was already handled, or the event is older than the object now stored.
    Duplicate { upload: UploadId, status: Status },
    /// The object is no longer there (deleted or quarantined since the event).
    ObjectGone { upload: UploadId },
    /// The gate refused the file: the record is `REJECTED`, the object quarantined.
    Rejected {
        upload: UploadId,
        reason: ReasonCode,
    },
    /// The gate accepted the file, but the workflow engine throttled its review start: the
    /// record stays `RECEIVED` and its notification comes back after `delay`, for the
    /// `attempt`-th time.
    Deferred {
        upload: UploadId,
        attempt: u32,
        delay: Duration,
    },
    /// The gate accepted the file and its review runs under `execution`.
    ReviewStarted {
        upload: UploadId,
        execution: ExecutionName,
        already_started: bool,
    },
}

/// Intake's ports and settings.
pub struct Intake {
    pub ports: Ports,
    /// Starts the review of an accepted upload.
    pub reviews: Arc<dyn ReviewStarter>,
    /// The rules of each slot kind; an upload is judged by its slot's.
    pub policies: SlotPolicies,
    /// The bucket whose notifications this intake handles.
    pub bucket: String,
    /// How long a review may wait for a moderator before it expires.
    pub review_timeout: Duration,
    /// At which shares of `review_timeout` a review still waiting escalates.
    pub escalation: EscalationShares,
    /// Where a throttled review start is deferred to (intake's own queue), or
    /// [`Deferral::none`] to fail its message instead.
    pub deferral: Deferral,
}

/// The name of the review execution for one stored version of one upload: at most 80
/// characters, and the same every time it is derived.
pub fn execution_name(upload: &UploadId, object_version: &str) -> ExecutionName {
    let digest = hex::encode(Sha256::digest(object_version.as_bytes()));
    let name = format!("{upload}-{}", &digest[..16]);
    ExecutionName::parse(&name)
        .unwrap_or_else(|_| unreachable!("a UUID, a dash and hex digits form a valid name"))
}

#[async_trait]
impl QueueService for Intake {
    fn name(&self) -> &'static str {
        "intake"
    }

    async fn handle(&self, body: &str) -> Result<(), StepError> {
        let outcomes = self.handle_message(body).await?;
        info!(?outcomes, "notification handled");
        Ok(())
    }
}

impl Intake {
    /// Handles one message body from the intake queue. An error leaves the message to be
    /// retried (and, if it keeps failing, dead-lettered); records already handled in the same
    /// message are safe to handle again.
    pub async fn handle_message(&self, body: &str) -> Result<Vec<Outcome>, StepError> {
        let records = match parse_notification(body)? {
            Notification::TestEvent => return Ok(vec![Outcome::TestEvent]),
            Notification::Records(records) => records,
        };
        let mut outcomes = Vec::with_capacity(records.len());
        let mut throttled = Vec::new();
        let deferral = self.deferral.queue();
        for (index, record) in records.iter().enumerate() {
            match (self.handle_record(record).await, deferral) {
                (Ok(outcome), _) => outcomes.push(outcome),
                (
                    Err(StepError::Workflow {
                        upload,
                        source: WorkflowError::Throttled(cause),
                    }),
                    Some(_),
                ) => throttled.push(Throttled {
                    index,
                    upload,
                    cause,
                }),
                (Err(other), _) => return Err(other),
            }
        }
        if let (Some(queue), Some(first)) = (deferral, throttled.first()) {
            let (upload, attempt) = (first.upload, s3_event::deferral_attempt(body)? + 1);
            match self.defer(queue, body, &throttled, attempt).await {
                Ok(delay) => outcomes.extend(throttled.into_iter().map(|t| {
                    warn!(upload = %t.upload, attempt, ?delay, cause = %t.cause,
                        "review start throttled; deferred");
                    Outcome::Deferred {
                        upload: t.upload,
                        attempt,
                        delay,
                    }
                })),
                // Not deferred: the message fails as it would have without deferral (it is
                // retried, and counts toward the dead-letter limit), so nothing is lost.
                Err(error) => {
                    warn!(%error, %upload, "could not defer a throttled review start; the message fails");
                    let cause = throttled.into_iter().next().map(|t| t.cause);
                    return Err(StepError::Workflow {
                        upload,
                        source: cause
                            .map_or(WorkflowError::Backend(error), WorkflowError::Throttled),
                    });
                }
            }
        }
        Ok(outcomes)
    }

    /// Re-sends the notification of the `throttled` records of `body` to intake's `queue`,
    /// marked as its `attempt`-th deferral, delayed as [`Deferral::delay`] says; returns the
    /// delay.
    async fn defer(
        &self,
        queue: &dyn crate::ports::WorkQueue,
        body: &str,
        throttled: &[Throttled],
        attempt: u32,
    ) -> Result<Duration, BackendError> {
        let indices: Vec<usize> = throttled.iter().map(|t| t.index).collect();
        let deferred = s3_event::deferred_body(body, &indices, attempt)
            .map_err(|e| BackendError::permanent("intake.defer", e))?;
        let mut seed = deferred.clone().into_bytes();
        seed.extend_from_slice(&self.ports.clock.now().unix_millis().to_le_bytes());
        let delay = self.deferral.delay(attempt, &seed);
        queue
            .send_delayed(&deferred, delay)
            .await
            .map_err(|e| BackendError::retryable("intake.defer", e))?;
        crate::metrics::review_starts_deferred("throttled", throttled.len());
        Ok(delay)
    }

    fn lifecycle(&self) -> Lifecycle<'_> {
        self.ports.lifecycle()
    }

    fn objects(&self) -> &dyn ObjectStore {
        self.ports.objects.as_ref()
    }

    async fn handle_record(&self, event: &ObjectCreated) -> Result<Outcome, StepError> {
        if event.bucket != self.bucket {
            warn!(bucket = %event.bucket, key = %event.key, "event from another bucket ignored");
            return Ok(Outcome::Ignored {
                key: event.key.clone(),
                why: "another bucket",
            });
        }
        let Ok(key) = ObjectKey::from_notification(&event.key) else {
            warn!(key = %event.key, "event for a key outside incoming/ ignored");
            return Ok(Outcome::Ignored {
                key: event.key.clone(),
                why: "not under incoming/",
            });
        };
        match key.kind() {
            KeyKind::Incoming { target, upload } => {
                self.handle_upload(key, target, upload, event).await
            }
            KeyKind::Stray => {
                warn!(key = %event.key, "deleting an object at a key Vetted never issued");
                self.delete(&key).await?;
                Ok(Outcome::StrayDeleted {
                    key: event.key.clone(),
                })
            }
            _ => Ok(Outcome::Ignored {
                key: event.key.clone(),
                why: "not an incoming upload",
            }),
        }
    }

    #[tracing::instrument(skip_all, fields(upload_id = %upload, correlation_id))]
    async fn handle_upload(
        &self,
        key: ObjectKey,
        target: SlotRef,
        upload: UploadId,
        event: &ObjectCreated,
    ) -> Result<Outcome, StepError> {
        let record = match self.ports.uploads.get(&upload).await {
            Ok(record) if record.target == target && record.key == key => {
                record.trace_correlation();
                record
            }
            Ok(_) | Err(UploadsError::NotFound(_)) => {
                warn!(%key, "deleting an upload with no intent behind it");
                self.delete(&key).await?;
                return Ok(Outcome::UnknownUploadDeleted { key });
            }
            Err(source) => return Err(StepError::Uploads { upload, source }),
        };
        match record.status {
            Status::AwaitingUpload | Status::Received => {}
            // Nobody will review a file for an intent that expired or was withdrawn.
            Status::Expired if record.reason == Some(ReasonCode::IntentExpired) => {
                self.delete(&key).await?;
                return Ok(duplicate(&record));
            }
            Status::Withdrawn => {
                self.delete(&key).await?;
                return Ok(duplicate(&record));
            }
            _ => return self.after_examination(&record, &key).await,
        }

        let meta = match self.objects().head(&key).await {
            Ok(meta) => meta,
            Err(StoreError::NotFound(_)) => return Ok(Outcome::ObjectGone { upload }),
            Err(source) => return Err(StepError::store(&key, source)),
        };
        if is_stale(event, &meta) {
            info!("event is older than the object now stored; the newer write has its own");
            return Ok(duplicate(&record));
        }
        let version = object_version(&meta);
        if record.status == Status::Received && record.object_version.as_deref() != Some(&version) {
            info!("upload already claimed by another write to the same key");
            delete_unexamined(self.objects(), &key, &meta).await?;
            return Ok(duplicate(&record));
        }
        if record.status == Status::AwaitingUpload && self.ports.clock.now() > record.expires_at {
            return self.expire_late_upload(record).await;
        }

        // Every read is of the write `head` described, so what is examined is what is
        // recorded, and what sanitize later reads by the same version.
        let started = std::time::Instant::now();
        let gate = run_gate(
            meta.size,
            record.declared_type.mime(),
            self.policies.for_kind(record.target.slot.kind()),
            |len| {
                let (key, version) = (&key, meta.version.as_deref());
                async move {
                    match version {
                        Some(v) => self.objects().get_range_of_version(key, v, 0..len).await,
                        None => self.objects().get_range(key, 0..len).await,
                    }
                }
            },
        )
        .await;
        let gate = match gate {
            Ok(gate) => gate,
            Err(StoreError::VersionGone { .. }) => {
                info!("written again while examined; the newer write has its own event");
                return Ok(duplicate(&record));
            }
            Err(source) => return Err(StepError::store(&key, source)),
        };
        let verdict = match gate.verdict {
            Verdict::Accept { .. } => "accept",
            Verdict::Reject { .. } | Verdict::NeedMore { .. } => "reject",
        };
        crate::metrics::gate(verdict, started.elapsed());
        info!(verdict = ?gate.verdict, bytes_read = gate.bytes_read, "gate");
        let verdict = match (record.sha256, meta.sha256) {
            (Some(pinned), Some(stored)) if pinned != stored => {
                warn!(%pinned, %stored, "the store holds other bytes than the client pinned");
                Verdict::Reject {
                    reason: ReasonCode::ChecksumMismatch,
                }
            }
            _ => gate.verdict,
        };
        // Banned bytes never reach review. The digest is known here when the client pinned it
        // or the store reported it; otherwise the sanitize step, which hashes every byte,
        // checks the list.
        let verdict = match (verdict, meta.sha256.or(record.sha256)) {
            (Verdict::Accept { .. }, Some(digest)) if self.is_banned(&upload, &digest).await? => {
                warn!(%digest, "the bytes are on the banned list");
                Verdict::Reject {
                    reason: ReasonCode::BannedContent,
                }
            }
            (verdict, _) => verdict,
        };

        let mut changes = RecordChanges {
            bytes: Some(meta.size),
            object_version: Some(version.clone()),
            sha256: meta.sha256,
            ..Default::default()
        };
        let execution = execution_name(&upload, &version);
        if let Verdict::Accept {
            image_type,
            width,
            height,
        } = verdict
        {
            changes.detected_type = Some(image_type);
            changes.width = Some(width);
            changes.height = Some(height);
            changes.execution_name = Some(execution.clone());
        }
        let received = match self.claim(record, changes, &version).await? {
            Claim::Ours(received) => received,
            Claim::Theirs(current) => return Ok(duplicate(&current)),
        };

        match verdict {
            Verdict::Accept { .. } => self.start_review(&received, execution).await,
            Verdict::Reject { reason } => self.reject(&received, reason).await,
            // run_gate resolves NeedMore itself; should one slip through, it is a header
            // the gate could not reach, never a reason to accept.
            Verdict::NeedMore { .. } => self.reject(&received, ReasonCode::HeaderTooDeep).await,
        }
    }

    /// `AWAITING_UPLOAD → RECEIVED` for this write. A record already `RECEIVED` for this same
    /// write (a redelivery, or a concurrent delivery that won the race) is ours to resume; its
    /// event is announced again, since the attempt that claimed it may have died first.
    async fn claim(
        &self,
        record: UploadRecord,
        changes: RecordChanges,
        version: &str,
    ) -> Result<Claim, StepError> {
        if record.status == Status::Received {
            self.lifecycle().announce(&record).await?;
            return Ok(Claim::Ours(record));
        }
        let same_write = |r: &UploadRecord| r.object_version.as_deref() == Some(version);
        let advanced = self
            .lifecycle()
            .advance(&record, Status::Received, changes)
            .await?;
        Ok(match advanced.reached() {
            Ok(received) if same_write(&received) => Claim::Ours(received),
            Ok(current) | Err(current) => Claim::Theirs(current),
        })
    }

    async fn is_banned(
        &self,
        upload: &UploadId,
        digest: &crate::checksum::ContentSha256,
    ) -> Result<bool, StepError> {
        self.ports
            .banned
            .get(digest)
            .await
            .map(|entry| entry.is_some())
            .map_err(|source| StepError::Banned {
                upload: *upload,
                source,
            })
    }

    async fn start_review(
        &self,
        record: &UploadRecord,
        execution: ExecutionName,
    ) -> Result<Outcome, StepError> {
        let review_timeout_seconds = self.review_timeout.as_secs().max(1);
        let input = ReviewStart {
            upload_id: record.id,
            review_timeout_seconds,
            review_stages: self.escalation.stages(review_timeout_seconds),
        };
        let started = self
            .reviews
            .start(&execution, &input)
            .await
            .map_err(|source| StepError::Workflow {
                upload: record.id,
                source,
            })?;
        info!(%execution, ?started, "review workflow");
        Ok(Outcome::ReviewStarted {
            upload: record.id,
            execution,
            already_started: started == StartOutcome::AlreadyStarted,
        })
    }

    async fn reject(
        &self,
        received: &UploadRecord,
        reason: ReasonCode,
    ) -> Result<Outcome, StepError> {
        let changes = RecordChanges {
            reason: Some(reason),
            ..Default::default()
        };
        let advanced = self
            .lifecycle()
            .advance(received, Status::Rejected, changes)
            .await?;
        let rejected = match advanced.reached() {
            Ok(rejected) => rejected,
            Err(current) => return Ok(duplicate(&current)),
        };
        self.quarantine(&rejected).await?;
        warn!(%reason, "upload rejected and quarantined");
        Ok(Outcome::Rejected {
            upload: rejected.id,
            reason,
        })
    }

    async fn expire_late_upload(&self, record: UploadRecord) -> Result<Outcome, StepError> {
        let changes = RecordChanges {
            reason: Some(ReasonCode::IntentExpired),
            ..Default::default()
        };
        let advanced = self
            .lifecycle()
            .advance(&record, Status::Expired, changes)
            .await?;
        if let Err(current) = advanced.reached() {
            return Ok(duplicate(&current));
        }
        warn!("upload arrived after its intent expired; deleted");
        self.delete(&record.key).await?;
        Ok(Outcome::IntentExpired { upload: record.id })
    }

    /// An event for an upload past `RECEIVED`: a redelivery, or a write made after the
    /// examined one (a presigned POST replayed within its expiry). A write that is not the
    /// examined one is deleted, and only it: on a store that keeps versions the examined write
    /// stays readable, and the quarantined copy is never overwritten. A rejected upload's own
    /// write is quarantined (again: a crash may have come between the verdict, its event and
    /// the quarantine).
    async fn after_examination(
        &self,
        record: &UploadRecord,
        key: &ObjectKey,
    ) -> Result<Outcome, StepError> {
        if record.status == Status::Rejected {
            self.lifecycle().announce(record).await?;
            self.quarantine(record).await?;
            return Ok(duplicate(record));
        }
        match self.objects().head(key).await {
            Ok(meta) if !is_examined(record, &meta) => {
                delete_unexamined(self.objects(), key, &meta).await?;
            }
            Ok(_) | Err(StoreError::NotFound(_)) => {}
            Err(source) => return Err(StepError::store(key, source)),
        }
        Ok(duplicate(record))
    }

    async fn quarantine(&self, record: &UploadRecord) -> Result<(), StepError> {
        quarantine(self.objects(), record).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StepError> {
        self.objects()
            .delete(key)
            .await
            .map_err(|source| StepError::store(key, source))
    }
}

/// A record of a notification whose review start was throttled.
struct Throttled {
    index: usize,
    upload: UploadId,
    cause: BackendError,
}

/// Who holds an upload after intake tried to claim it.
enum Claim {
    /// `RECEIVED` for the write this event describes: carry on.
    Ours(UploadRecord),
    /// Claimed by another write, or already moved on: nothing to do.
    Theirs(UploadRecord),
}

/// Moves a refused object out of `incoming/` into `quarantine/`, where nothing reads it again
/// and a lifecycle rule expires it. Safe to repeat: a missing source means it already moved.
/// Only the examined write is quarantined: a later write at the key (a replayed upload) is
/// deleted instead, so it never overwrites the evidence.
pub(crate) async fn quarantine(
    objects: &dyn ObjectStore,
    record: &UploadRecord,
) -> Result<(), StepError> {
    let meta = match objects.head(&record.key).await {
        Ok(meta) => meta,
        Err(StoreError::NotFound(_)) => return Ok(()),
        Err(source) => return Err(StepError::store(&record.key, source)),
    };
    if !is_examined(record, &meta) {
        return delete_unexamined(objects, &record.key, &meta).await;
    }
    let to = ObjectKey::quarantine(&record.target, &record.id);
    match objects
        .copy(&record.key, &to, QUARANTINE_CONTENT_TYPE)
        .await
    {
        Ok(_) | Err(StoreError::NotFound(_)) => {}
        Err(source) => return Err(StepError::store(&to, source)),
    }
    objects
        .delete(&record.key)
        .await
        .map_err(|source| StepError::store(&record.key, source))
}

/// Whether `meta` describes the write intake examined for `record`.
fn is_examined(record: &UploadRecord, meta: &ObjectMeta) -> bool {
    record.object_version.as_deref() == Some(object_version(meta).as_str())
}

/// Deletes the write `meta` describes, which is not the one intake examined: only that
/// version where the store keeps versions, else the key (its examined bytes are gone already,
/// replaced by this write).
async fn delete_unexamined(
    objects: &dyn ObjectStore,
    key: &ObjectKey,
    meta: &ObjectMeta,
) -> Result<(), StepError> {
    warn!(%key, "deleting a write made after the upload was examined");
    let deleted = match &meta.version {
        Some(version) => objects.delete_version(key, version).await,
        None => objects.delete(key).await,
    };
    deleted.map_err(|source| StepError::store(key, source))
}

fn duplicate(record: &UploadRecord) -> Outcome {
    Outcome::Duplicate {
        upload: record.id,
        status: record.status,
    }
}

/// The version intake examined: the store's version id, or else the ETag without quotes.
fn object_version(meta: &ObjectMeta) -> String {
    meta.version
        .clone()
        .unwrap_or_else(|| meta.etag.trim_matches('"').to_owned())
}

/// Whether the event describes an earlier write than the object now stored.
fn is_stale(event: &ObjectCreated, meta: &ObjectMeta) -> bool {
    if let (Some(event_version), Some(stored)) = (&event.version_id, &meta.version) {
        return event_version != stored;
    }
    match &event.etag {
        Some(etag) => etag != meta.etag.trim_matches('"'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_names_are_stable_short_and_version_specific() {
        let upload = UploadId::generate();
        let a = execution_name(&upload, "etag-1");
        assert_eq!(a, execution_name(&upload, "etag-1"));
        assert_ne!(a, execution_name(&upload, "etag-2"));
        assert!(a.as_str().len() <= 80);
        assert!(a.as_str().starts_with(&upload.to_string()));
    }

    fn meta(etag: &str, version: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            size: 1,
            etag: format!("\"{etag}\""),
            version: version.map(str::to_owned),
            content_type: None,
            sha256: None,
        }
    }

    fn event(etag: Option<&str>, version: Option<&str>) -> ObjectCreated {
        ObjectCreated {
            event_name: "ObjectCreated:Put".into(),
            bucket: "b".into(),
            key: "k".into(),
            size: Some(1),
            etag: etag.map(str::to_owned),
            version_id: version.map(str::to_owned),
        }
    }

    #[test]
    fn staleness_prefers_versions_then_etags() {
        assert!(!is_stale(&event(Some("a"), None), &meta("a", None)));
        assert!(is_stale(&event(Some("a"), None), &meta("b", None)));
        assert!(!is_stale(&event(None, None), &meta("b", None)));
        assert!(is_stale(
            &event(Some("a"), Some("v1")),
            &meta("a", Some("v2"))
        ));
        assert!(!is_stale(
            &event(Some("x"), Some("v2")),
            &meta("a", Some("v2"))
        ));
    }

    #[test]
    fn the_version_examined_is_the_version_id_or_the_bare_etag() {
        assert_eq!(object_version(&meta("e", None)), "e");
        assert_eq!(object_version(&meta("e", Some("v"))), "v");
    }
}
