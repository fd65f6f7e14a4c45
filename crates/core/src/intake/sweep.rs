//! The sweep over intents still awaiting their upload.
//!
//! Notifications can go missing: the embedded endpoint may be killed between storing an
//! object and queueing its event, and S3 documents its notifications as at-least-once in
//! principle but offers no replay when a delivery is lost. The sweep makes such uploads
//! safe anyway: an intent whose object is in the store is handled exactly as if its
//! notification had arrived (every step of intake is idempotent, so racing a late
//! notification is harmless), and an intent whose deadline passed with nothing uploaded
//! expires, so the owner hears about it instead of waiting forever.

use std::time::Duration;

use tracing::{info, warn};

use super::{Intake, IntakeError, ObjectCreated, Outcome};
use crate::ports::{PageRequest, StoreError, UploadsError};
use crate::reason::ReasonCode;
use crate::record::{RecordChanges, UploadRecord};
use crate::status::Status;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Intents examined.
    pub examined: usize,
    /// Uploads found in the store with no notification handled, now handled.
    pub recovered: usize,
    /// Intents that expired with nothing uploaded.
    pub expired: usize,
}

/// Records examined per page; a sweep looks at most `MAX_PAGES` pages.
const PAGE: u32 = 100;
const MAX_PAGES: usize = 50;

impl Intake {
    /// Sweeps intents that have been awaiting their upload for at least `grace` (so that
    /// ordinary notifications, which arrive within seconds, are left to do their work).
    /// Run it at start-up and then periodically.
    pub async fn sweep_awaiting(&self, grace: Duration) -> Result<SweepReport, IntakeError> {
        let now = self.clock.now();
        let mut report = SweepReport::default();
        let mut page = PageRequest::first(PAGE);
        for _ in 0..MAX_PAGES {
            let batch = self
                .uploads
                .list_by_status(Status::AwaitingUpload, &page)
                .await
                .map_err(|source| IntakeError::Listing { source })?;
            for record in batch.items {
                if now.duration_since(record.status_since) < grace {
                    // Oldest first: everything after this one is younger still.
                    return Ok(report);
                }
                report.examined += 1;
                self.sweep_one(record, &mut report).await?;
            }
            match batch.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
        Ok(report)
    }

    async fn sweep_one(
        &self,
        record: UploadRecord,
        report: &mut SweepReport,
    ) -> Result<(), IntakeError> {
        match self.objects.head(&record.key).await {
            Ok(_) => {
                warn!(upload_id = %record.id, "found an upload whose notification never came");
                let event = ObjectCreated {
                    event_name: "ObjectCreated:Recovered".to_owned(),
                    bucket: self.bucket.clone(),
                    key: record.key.as_str().to_owned(),
                    size: None,
                    etag: None,
                    version_id: None,
                };
                let outcome = self.handle_record(&event).await?;
                if !matches!(
                    outcome,
                    Outcome::Duplicate { .. } | Outcome::ObjectGone { .. }
                ) {
                    report.recovered += 1;
                }
            }
            Err(StoreError::NotFound(_)) if self.clock.now() > record.expires_at => {
                let changes = RecordChanges {
                    reason: Some(ReasonCode::IntentExpired),
                    ..Default::default()
                };
                let transition = self
                    .transition_for(Status::AwaitingUpload, Status::Expired)
                    .with(changes);
                match self.uploads.transition(&record.id, &transition).await {
                    Ok(expired) => {
                        self.publish(&expired).await?;
                        info!(upload_id = %record.id, "intent expired with nothing uploaded");
                        report.expired += 1;
                    }
                    // Its upload arrived meanwhile; intake has it.
                    Err(UploadsError::Conflict(_)) => {}
                    Err(source) => {
                        return Err(IntakeError::Uploads {
                            upload: record.id,
                            source,
                        });
                    }
                }
            }
            Err(StoreError::NotFound(_)) => {}
            Err(source) => {
                return Err(IntakeError::Store {
                    key: record.key,
                    source,
                });
            }
        }
        Ok(())
    }
}
