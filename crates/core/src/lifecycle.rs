//! The one step that moves an upload's record: a conditional write, the resolution of a
//! conflict, and the record's event. Intake, the sweeps, the review tasks and the decisions
//! all move records through [`Lifecycle::advance`], so "every status change emits one event"
//! is the structure of the code, not a convention each caller keeps.
//!
//! Events are at least once: `advance` announces the record's event after the write, and
//! again when a repeated step finds the record already where it was going (the first attempt
//! may have died between the write and the event). The event id depends only on the upload
//! and the status, so a repeat is recognisable downstream.

use crate::events::UploadEvent;
use crate::media::MediaUrls;
use crate::ports::{EventSink, Uploads, UploadsError};
use crate::record::{RecordChanges, Transition, UploadRecord};
use crate::restaurant::SlotState;
use crate::service::{Ports, StepError};
use crate::status::Status;
use crate::time::Clock;

/// Where an [`advance`](Lifecycle::advance) left the record.
#[derive(Debug, Clone, PartialEq)]
pub enum Advanced {
    /// This call moved the record to the target status, and announced its event.
    Moved(UploadRecord),
    /// An earlier attempt of the same step had moved it there already (a redelivery, or a
    /// resume after a crash); its event has been announced again.
    AlreadyThere(UploadRecord),
    /// Another step or decision moved it somewhere else first; nothing was written or
    /// announced. This is the record as it stands.
    Elsewhere(UploadRecord),
}

impl Advanced {
    /// `Ok` with the record at the target status, whoever moved it there; `Err` with the
    /// record where it is instead.
    #[expect(
        clippy::result_large_err,
        reason = "both sides are the same record; boxing one would not make the other smaller"
    )]
    pub fn reached(self) -> Result<UploadRecord, UploadRecord> {
        match self {
            Advanced::Moved(record) | Advanced::AlreadyThere(record) => Ok(record),
            Advanced::Elsewhere(record) => Err(record),
        }
    }
}

/// Moves records and announces their events, over the record store and the event sink.
#[derive(Clone, Copy)]
pub struct Lifecycle<'a> {
    uploads: &'a dyn Uploads,
    events: &'a dyn EventSink,
    clock: &'a dyn Clock,
    media: &'a MediaUrls,
}

impl<'a> Lifecycle<'a> {
    pub fn new(ports: &'a Ports) -> Self {
        Self {
            uploads: ports.uploads.as_ref(),
            events: ports.events.as_ref(),
            clock: ports.clock.as_ref(),
            media: &ports.media,
        }
    }

    /// Moves `record` from its status to `to`, writing `changes`, and announces the event of
    /// the status it reached.
    ///
    /// A conflict is resolved from the record as it stands: already at `to` is
    /// [`Advanced::AlreadyThere`] (a repeated step resumes, and its event is announced again);
    /// anywhere else is [`Advanced::Elsewhere`].
    ///
    /// Callers only make moves the status machine allows; a forbidden one is a bug, reported
    /// as a permanent [`StepError::IllegalMove`] rather than a panic.
    pub async fn advance(
        &self,
        record: &UploadRecord,
        to: Status,
        changes: RecordChanges,
    ) -> Result<Advanced, StepError> {
        let transition = Transition::new(record.status, to, self.clock.now())
            .map_err(|source| StepError::IllegalMove {
                upload: record.id,
                source,
            })?
            .with(changes);
        let advanced = match self.uploads.transition(&record.id, &transition).await {
            Ok(moved) => {
                crate::metrics::transition(moved.status, moved.reason);
                Advanced::Moved(moved)
            }
            Err(UploadsError::Conflict { current, .. }) if current.status == to => {
                Advanced::AlreadyThere(*current)
            }
            Err(UploadsError::Conflict { current, .. }) => {
                return Ok(Advanced::Elsewhere(*current));
            }
            Err(source) => {
                return Err(StepError::Uploads {
                    upload: record.id,
                    source,
                });
            }
        };
        if let Advanced::Moved(at) | Advanced::AlreadyThere(at) = &advanced {
            self.announce(at).await?;
        }
        Ok(advanced)
    }

    /// Announces the event of the status `record` is in, if that status has one. For a step
    /// that finds its move already made before it started: the attempt that made it may have
    /// died before announcing it.
    pub async fn announce(&self, record: &UploadRecord) -> Result<(), StepError> {
        let Some(event) = UploadEvent::for_record(record, self.media) else {
            return Ok(());
        };
        self.events
            .publish(&event)
            .await
            .map_err(|source| StepError::Events {
                upload: record.id,
                source,
            })
    }

    /// Announces `slot.changed` for a slot that has just taken (or, on a retry, already
    /// holds) a new live image, or `slot.cleared` for one whose image was just removed.
    pub async fn announce_slot(&self, state: &SlotState) -> Result<(), StepError> {
        let Some(event) = UploadEvent::slot_changed(state, self.media) else {
            return Ok(());
        };
        self.events
            .publish(&event)
            .await
            .map_err(|source| StepError::Events {
                upload: event.upload_id,
                source,
            })
    }
}
