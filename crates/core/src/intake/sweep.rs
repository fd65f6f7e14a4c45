//! The sweeps over uploads whose handling stopped short: intents still awaiting their
//! upload ([`Intake::sweep_awaiting`]) and uploads claimed but not finished
//! ([`Intake::sweep_received`]).
//!
//! Notifications can go missing: the embedded endpoint may be killed between storing an
//! object and queueing its event, and S3 documents its notifications as at-least-once in
//! principle but offers no replay when a delivery is lost. The sweep makes such uploads
//! safe anyway: an intent whose object is in the store is handled exactly as if its
//! notification had arrived (every step of intake is idempotent, so racing a late
//! notification is harmless), and an intent whose deadline passed with nothing uploaded
//! expires, so the owner hears about it instead of waiting forever. Likewise a worker may die
//! between claiming an upload and starting its review; the second sweep finishes the job.

use std::time::Duration;

use tracing::{info, warn};

use super::{Intake, ObjectCreated, Outcome};
use crate::lifecycle::Advanced;
use crate::ports::{PageRequest, StoreError};
use crate::reason::ReasonCode;
use crate::record::{RecordChanges, UploadRecord};
use crate::service::StepError;
use crate::status::Status;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Records examined.
    pub examined: usize,
    /// Uploads whose handling had stopped short (a notification never handled, a review
    /// never started), now handled.
    pub recovered: usize,
    /// Intents that expired with nothing uploaded.
    pub expired: usize,
    /// Uploads that can no longer be finished, now `FAILED` for an operator to look at.
    pub failed: usize,
    /// Records the sweep could not handle this time (a backend error); the next sweep
    /// tries them again. Each is logged.
    pub errors: usize,
}

/// Records examined per page; a sweep looks at most `MAX_PAGES` pages.
const PAGE: u32 = 100;
const MAX_PAGES: usize = 50;

impl Intake {
    /// Sweeps intents that have been awaiting their upload for at least `grace` (so that
    /// ordinary notifications, which arrive within seconds, are left to do their work).
    /// Run it at start-up and then periodically.
    pub async fn sweep_awaiting(&self, grace: Duration) -> Result<SweepReport, StepError> {
        self.sweep(Status::AwaitingUpload, grace).await
    }

    /// Finishes uploads that have been `RECEIVED` for at least `grace`: intake claimed them
    /// but may have died before their verdict took effect. An accepted one (its execution
    /// name recorded) gets its review started, which is `AlreadyStarted` if it was; any other
    /// is handled again from its stored object, and if that object is no longer the one
    /// intake examined (replaced meanwhile), it cannot be judged: it becomes `FAILED`.
    pub async fn sweep_received(&self, grace: Duration) -> Result<SweepReport, StepError> {
        self.sweep(Status::Received, grace).await
    }

    /// Pages through the records in `status`, oldest first, handling each that has been
    /// there for at least `grace`. One record that fails is logged and counted, and the sweep
    /// goes on: it must not stop the others behind it, sweep after sweep.
    async fn sweep(&self, status: Status, grace: Duration) -> Result<SweepReport, StepError> {
        let now = self.ports.clock.now();
        let mut report = SweepReport::default();
        let mut page = PageRequest::first(PAGE);
        for _ in 0..MAX_PAGES {
            let batch = self
                .ports
                .uploads
                .list_by_status(status, &page)
                .await
                .map_err(|source| StepError::Listing { source })?;
            for record in batch.items {
                if now.duration_since(record.status_since) < grace {
                    // Oldest first: everything after this one is younger still.
                    return Ok(report);
                }
                report.examined += 1;
                let id = record.id;
                let handled = match status {
                    Status::AwaitingUpload => self.sweep_one(record, &mut report).await,
                    _ => self.finish_received(record, &mut report).await,
                };
                if let Err(error) = handled {
                    warn!(upload_id = %id, %error, "the sweep could not handle this upload; next time");
                    report.errors += 1;
                }
            }
            match batch.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
        Ok(report)
    }

    pub(super) async fn finish_received(
        &self,
        record: UploadRecord,
        report: &mut SweepReport,
    ) -> Result<(), StepError> {
        if let Some(execution) = record.execution_name.clone() {
            if let Outcome::ReviewStarted {
                already_started: false,
                ..
            } = self.start_review(&record, execution).await?
            {
                warn!(upload_id = %record.id, "started a review whose start had been lost");
                report.recovered += 1;
            }
            return Ok(());
        }
        let event = recovered_event(&self.bucket, &record);
        match self.handle_record(&event).await? {
            Outcome::Duplicate {
                status: Status::Received,
                ..
            }
            | Outcome::ObjectGone { .. } => {
                let changes = RecordChanges {
                    reason: Some(ReasonCode::ProcessingFailed),
                    failure: Some(
                        "the object at the upload's key is not the one intake examined (it was \
                         replaced or removed before the verdict was recorded)"
                            .to_owned(),
                    ),
                    ..Default::default()
                };
                if let Advanced::Moved(_) = self
                    .lifecycle()
                    .advance(&record, Status::Failed, changes)
                    .await?
                {
                    warn!(upload_id = %record.id, "upload could not be judged; now FAILED");
                    report.failed += 1;
                }
            }
            _ => report.recovered += 1,
        }
        Ok(())
    }

    async fn sweep_one(
        &self,
        record: UploadRecord,
        report: &mut SweepReport,
    ) -> Result<(), StepError> {
        match self.objects().head(&record.key).await {
            Ok(_) => {
                warn!(upload_id = %record.id, "found an upload whose notification never came");
                let outcome = self
                    .handle_record(&recovered_event(&self.bucket, &record))
                    .await?;
                if !matches!(
                    outcome,
                    Outcome::Duplicate { .. } | Outcome::ObjectGone { .. }
                ) {
                    report.recovered += 1;
                }
            }
            Err(StoreError::NotFound(_)) if self.ports.clock.now() > record.expires_at => {
                let changes = RecordChanges {
                    reason: Some(ReasonCode::IntentExpired),
                    ..Default::default()
                };
                // Moved elsewhere: its upload arrived meanwhile, and intake has it.
                if let Advanced::Moved(_) = self
                    .lifecycle()
                    .advance(&record, Status::Expired, changes)
                    .await?
                {
                    info!(upload_id = %record.id, "intent expired with nothing uploaded");
                    report.expired += 1;
                }
            }
            Err(StoreError::NotFound(_)) => {}
            Err(source) => return Err(StepError::store(&record.key, source)),
        }
        Ok(())
    }
}

/// The notification intake would have had for `record`'s object: with no ETag or version,
/// it describes whatever is stored at the key now.
fn recovered_event(bucket: &str, record: &UploadRecord) -> ObjectCreated {
    ObjectCreated {
        event_name: "ObjectCreated:Recovered".to_owned(),
        bucket: bucket.to_owned(),
        key: record.key.as_str().to_owned(),
        size: None,
        etag: None,
        version_id: None,
    }
}
