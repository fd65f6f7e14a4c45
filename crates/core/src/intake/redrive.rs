//! Operator redrive of a `FAILED` upload ([`Intake::redrive_failed`]): the upload goes back
//! through the pipeline from where its notification would have taken it.
//!
//! `FAILED → RECEIVED` is one conditional write, so of two operators (or a redrive and its
//! retry) one moves the upload and the other is told it is no longer `FAILED`. What follows
//! is what the sweep over `RECEIVED` uploads does, so a redrive interrupted after the write is
//! finished by the next maintenance pass:
//! - an upload the gate had accepted starts a new review execution. Its name is derived from
//!   the examined version and the execution that failed, so it never collides with the first
//!   (Step Functions keeps a name for 90 days) and is the same however often the redrive is
//!   retried;
//! - an upload with no verdict is examined again from its stored object; if that object is no
//!   longer the one intake examined, the upload becomes `FAILED` again with that cause.

use sha2::{Digest, Sha256};
use tracing::warn;

use super::Intake;
use super::sweep::SweepReport;
use crate::ids::{ExecutionName, UploadId};
use crate::ports::UploadsError;
use crate::record::{RecordChanges, UploadRecord};
use crate::service::StepError;
use crate::status::Status;

/// What a redrive of one upload did, or would do with `dry_run`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RedriveOutcome {
    /// It was `FAILED`; it is `RECEIVED` again, and its review started under `execution` (or
    /// it was examined again, when the gate had given no verdict).
    Redriven {
        upload: UploadId,
        execution: Option<ExecutionName>,
        /// Where it stands after the redrive: `RECEIVED` (or further along), or `FAILED`
        /// again when its object is no longer the one examined.
        status: Status,
    },
    /// `--dry-run`: it is `FAILED` and would be redriven under `execution`.
    WouldRedrive {
        upload: UploadId,
        execution: Option<ExecutionName>,
    },
    /// It is not `FAILED` (a second redrive, or never failed): nothing done.
    NotFailed { upload: UploadId, status: Status },
}

/// The name of the review execution a redrive starts: derived from the examined version and
/// the execution that failed, so each redrive of a version gets its own name, at most 80
/// characters, and a retried redrive gets the same one.
pub fn redrive_execution_name(
    upload: &UploadId,
    object_version: &str,
    failed: Option<&ExecutionName>,
) -> ExecutionName {
    let mut digest = Sha256::new();
    digest.update(object_version.as_bytes());
    digest.update([0]);
    digest.update(failed.map_or("", |name| name.as_str()).as_bytes());
    let digest = hex::encode(digest.finalize());
    let name = format!("{upload}-r{}", &digest[..16]);
    ExecutionName::parse(&name)
        .unwrap_or_else(|_| unreachable!("a UUID, a dash, `r` and hex digits form a valid name"))
}

impl Intake {
    /// Sends a `FAILED` upload back through the pipeline (see the module's doc). Idempotent:
    /// an upload no longer `FAILED` is reported as such and left alone.
    pub async fn redrive_failed(
        &self,
        upload: &UploadId,
        dry_run: bool,
    ) -> Result<RedriveOutcome, StepError> {
        let record = self.get_record(upload).await?;
        if record.status != Status::Failed {
            return Ok(RedriveOutcome::NotFailed {
                upload: *upload,
                status: record.status,
            });
        }
        let execution = new_execution(&record);
        if dry_run {
            return Ok(RedriveOutcome::WouldRedrive {
                upload: *upload,
                execution,
            });
        }
        let changes = RecordChanges {
            execution_name: execution.clone(),
            ..Default::default()
        };
        let advanced = self
            .lifecycle()
            .advance(&record, Status::Received, changes)
            .await?;
        let received = match advanced.reached() {
            Ok(received) => received,
            Err(current) => {
                return Ok(RedriveOutcome::NotFailed {
                    upload: *upload,
                    status: current.status,
                });
            }
        };
        // audit: redrive (an upload FAILED → RECEIVED, by an operator)
        warn!(upload_id = %upload, ?execution, "operator redrive of a FAILED upload");
        self.finish_received(received, &mut SweepReport::default())
            .await?;
        let status = self.get_record(upload).await?.status;
        Ok(RedriveOutcome::Redriven {
            upload: *upload,
            execution,
            status,
        })
    }

    async fn get_record(&self, upload: &UploadId) -> Result<UploadRecord, StepError> {
        self.ports
            .uploads
            .get(upload)
            .await
            .map_err(|source| StepError::Uploads {
                upload: *upload,
                source,
            })
    }
}

/// The execution a redrive of `record` starts: a new one when the gate accepted it (it has an
/// examined version and a detected type); none when it must be examined again.
fn new_execution(record: &UploadRecord) -> Option<ExecutionName> {
    match (&record.object_version, record.detected_type) {
        (Some(version), Some(_)) => Some(redrive_execution_name(
            &record.id,
            version,
            record.execution_name.as_ref(),
        )),
        _ => None,
    }
}

/// Whether a record-store error means the upload does not exist.
pub fn is_not_found(error: &StepError) -> bool {
    matches!(
        error,
        StepError::Uploads {
            source: UploadsError::NotFound(_),
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::execution_name;

    #[test]
    fn redrive_names_are_new_stable_and_chain() {
        let upload = UploadId::generate();
        let first = execution_name(&upload, "v1");
        let second = redrive_execution_name(&upload, "v1", Some(&first));
        assert_ne!(first, second);
        assert_eq!(second, redrive_execution_name(&upload, "v1", Some(&first)));
        let third = redrive_execution_name(&upload, "v1", Some(&second));
        assert_ne!(third, second);
        assert!(third.as_str().len() <= 80);
    }
}
