//! Domain events: one per status change, versioned, with an id derived from (upload, status);
//! `review.escalated` once per escalation level of a review still waiting, with an id derived
//! from (upload, level); and one per change of a slot's live image (`slot.changed`, or `slot.cleared` when a gallery
//! image is removed), with an id derived from (slot, revision).
//!
//! Events are built from the record *after* its transition (or the slot after its swap), so
//! an event can only say what the store says. Because the id depends only on what changed,
//! re-sending an event after a retry produces the same id, and consumers can drop the
//! duplicate.

use serde::{Deserialize, Serialize};

use crate::ids::{CorrelationId, ModeratorId, ObjectKey, OwnerId, UploadId};
use crate::image_type::ImageType;
use crate::media::MediaUrls;
use crate::reason::ReasonCode;
use crate::record::{DeclineReason, UploadRecord};
use crate::restaurant::{RestaurantId, Slot, SlotChangeCause, SlotState};
use crate::status::Status;
use crate::time::Timestamp;

/// The schema version of [`UploadEvent`]; bump it on any incompatible change.
pub const EVENT_VERSION: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "upload.received")]
    UploadReceived,
    #[serde(rename = "upload.rejected")]
    UploadRejected,
    #[serde(rename = "review.requested")]
    ReviewRequested,
    #[serde(rename = "review.approved")]
    ReviewApproved,
    #[serde(rename = "review.declined")]
    ReviewDeclined,
    #[serde(rename = "upload.published")]
    UploadPublished,
    #[serde(rename = "upload.expired")]
    UploadExpired,
    #[serde(rename = "upload.failed")]
    UploadFailed,
    /// The owner took the request back before a moderator decided it.
    #[serde(rename = "upload.withdrawn")]
    UploadWithdrawn,
    /// A slot's live image changed: a publish, or a rollback.
    #[serde(rename = "slot.changed")]
    SlotChanged,
    /// An owner removed a gallery image: the slot shows nothing now.
    #[serde(rename = "slot.cleared")]
    SlotCleared,
    /// A review still waiting for a moderator reached an escalation point of its deadline.
    #[serde(rename = "review.escalated")]
    ReviewEscalated,
}

impl EventType {
    pub const ALL: [EventType; 12] = [
        EventType::UploadReceived,
        EventType::UploadRejected,
        EventType::ReviewRequested,
        EventType::ReviewApproved,
        EventType::ReviewDeclined,
        EventType::UploadPublished,
        EventType::UploadExpired,
        EventType::UploadFailed,
        EventType::UploadWithdrawn,
        EventType::SlotChanged,
        EventType::SlotCleared,
        EventType::ReviewEscalated,
    ];

    /// The event a record entering `status` emits; `None` for statuses nobody outside needs
    /// to hear about (the intent itself, a first approval that still needs a second, and the
    /// moderator's not-yet-applied decision). The audit trail records the first approval.
    pub fn for_status(status: Status) -> Option<Self> {
        match status {
            Status::AwaitingUpload | Status::AwaitingSecond | Status::Decided => None,
            Status::Received => Some(EventType::UploadReceived),
            Status::Rejected => Some(EventType::UploadRejected),
            Status::InReview => Some(EventType::ReviewRequested),
            Status::Approved => Some(EventType::ReviewApproved),
            Status::Declined => Some(EventType::ReviewDeclined),
            Status::Published => Some(EventType::UploadPublished),
            Status::Expired => Some(EventType::UploadExpired),
            Status::Failed => Some(EventType::UploadFailed),
            Status::Withdrawn => Some(EventType::UploadWithdrawn),
        }
    }

    /// A moderator's decision: the events that name the moderator.
    pub fn is_decision(self) -> bool {
        matches!(self, EventType::ReviewApproved | EventType::ReviewDeclined)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UploadReceived => "upload.received",
            EventType::UploadRejected => "upload.rejected",
            EventType::ReviewRequested => "review.requested",
            EventType::ReviewApproved => "review.approved",
            EventType::ReviewDeclined => "review.declined",
            EventType::UploadPublished => "upload.published",
            EventType::UploadExpired => "upload.expired",
            EventType::UploadFailed => "upload.failed",
            EventType::UploadWithdrawn => "upload.withdrawn",
            EventType::SlotChanged => "slot.changed",
            EventType::SlotCleared => "slot.cleared",
            EventType::ReviewEscalated => "review.escalated",
        }
    }
}

/// What happened to an upload or a slot. Carries nothing internal: no task token. The
/// moderator who decided is named (by id) on `review.approved`, `review.declined` and a
/// rollback's `slot.changed`, and on no other event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadEvent {
    /// `{upload_id}.{type}`: the same status change always has the same id. For the slot
    /// events, `{restaurant}.{slot}.{revision}.{type}`.
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub version: u32,
    pub time: Timestamp,
    /// The upload whose status changed; for `slot.changed`, the image now live; for
    /// `slot.cleared`, the image removed.
    pub upload_id: UploadId,
    pub restaurant: RestaurantId,
    pub slot: Slot,
    /// Who asked for the change; absent from the slot events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<OwnerId>,
    /// The upload's status; for the slot events, `PUBLISHED`.
    pub status: Status,
    /// The public URL of the published image, where one is served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Slot events: the image the slot showed before, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_upload_id: Option<UploadId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_url: Option<String>,
    /// Slot events: which change of the slot this is, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReasonCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detected_type: Option<ImageType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<DeclineReason>,
    /// The moderator who decided: on `review.approved`, `review.declined`, and a rollback's
    /// `slot.changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderator: Option<ModeratorId>,
    /// Four-eyes review: on `review.approved` and `review.declined`, the moderator who gave
    /// the first approval; `moderator` made the deciding one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_approver: Option<ModeratorId>,
    /// Upload events: the upload's correlation id, the same on every event from presign to
    /// publish (the client's reference, or the upload id). Absent from the slot events,
    /// which belong to the slot rather than to one request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<CorrelationId>,
    /// `review.escalated`: the level reached (1, 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_level: Option<u8>,
}

impl UploadEvent {
    /// The event for the status `record` has just entered, if that status has one.
    pub fn for_record(record: &UploadRecord, media: &MediaUrls) -> Option<Self> {
        let event_type = EventType::for_status(record.status)?;
        let url = (record.status == Status::Published)
            .then(|| {
                media.image(
                    &record.id,
                    &ObjectKey::published(&record.target, &record.id),
                )
            })
            .flatten();
        Some(Self {
            id: format!("{}.{}", record.id, event_type.as_str()),
            event_type,
            version: EVENT_VERSION,
            time: record.status_since,
            upload_id: record.id,
            restaurant: record.target.restaurant.clone(),
            slot: record.target.slot,
            owner: Some(record.owner.clone()),
            status: record.status,
            url,
            previous_upload_id: None,
            previous_url: None,
            revision: None,
            reason: record.reason,
            detected_type: record.detected_type,
            width: record.width,
            height: record.height,
            bytes: record.bytes,
            decline_reason: record.decline_reason,
            moderator: event_type
                .is_decision()
                .then(|| record.moderator.clone())
                .flatten(),
            first_approver: event_type
                .is_decision()
                .then(|| record.first_approver.clone())
                .flatten(),
            correlation_id: Some(record.correlation_id()),
            escalation_level: None,
        })
    }

    /// `review.escalated` for `record`, still in review (`IN_REVIEW`, or `AWAITING_SECOND`
    /// with one of two approvals), at escalation `level`. The id names the level, so a
    /// repeated escalate task announces the same event again.
    pub fn escalated(record: &UploadRecord, level: u8, at: Timestamp) -> Self {
        let event_type = EventType::ReviewEscalated;
        Self {
            id: format!("{}.{}.{level}", record.id, event_type.as_str()),
            event_type,
            version: EVENT_VERSION,
            time: at,
            upload_id: record.id,
            restaurant: record.target.restaurant.clone(),
            slot: record.target.slot,
            owner: Some(record.owner.clone()),
            status: record.status,
            url: None,
            previous_upload_id: None,
            previous_url: None,
            revision: None,
            reason: None,
            detected_type: record.detected_type,
            width: record.width,
            height: record.height,
            bytes: record.bytes,
            decline_reason: None,
            moderator: None,
            first_approver: None,
            correlation_id: Some(record.correlation_id()),
            escalation_level: Some(level),
        }
    }

    /// The event of a slot that has just changed: `slot.changed` when it took a new live
    /// image, `slot.cleared` when its image was removed.
    pub fn slot_changed(state: &SlotState, media: &MediaUrls) -> Option<Self> {
        let Some(live) = state.live.as_ref() else {
            return Self::slot_cleared(state, media);
        };
        let event_type = EventType::SlotChanged;
        let slot = &state.slot;
        Some(Self {
            id: slot_event_id(state, event_type),
            event_type,
            version: EVENT_VERSION,
            // A publish is announced when it went live, a rollback when it was made.
            time: match state.cause {
                Some(SlotChangeCause::RolledBack { .. }) => {
                    state.changed_at.unwrap_or(live.published_at)
                }
                _ => live.published_at,
            },
            upload_id: live.upload,
            restaurant: slot.restaurant.clone(),
            slot: slot.slot,
            owner: None,
            status: Status::Published,
            url: media.image(&live.upload, &live.key),
            previous_upload_id: state.previous,
            previous_url: previous_image_url(state, media),
            revision: Some(state.revision),
            reason: None,
            detected_type: Some(live.image_type),
            width: Some(live.width),
            height: Some(live.height),
            bytes: Some(live.bytes),
            decline_reason: None,
            moderator: match &state.cause {
                Some(SlotChangeCause::RolledBack { moderator }) => Some(moderator.clone()),
                _ => None,
            },
            first_approver: None,
            correlation_id: None,
            escalation_level: None,
        })
    }

    /// `slot.cleared` for a slot whose image was removed: `upload_id` is the image it showed.
    fn slot_cleared(state: &SlotState, media: &MediaUrls) -> Option<Self> {
        let removed = state.previous?;
        let changed_at = state.changed_at?;
        let event_type = EventType::SlotCleared;
        let slot = &state.slot;
        Some(Self {
            id: slot_event_id(state, event_type),
            event_type,
            version: EVENT_VERSION,
            time: changed_at,
            upload_id: removed,
            restaurant: slot.restaurant.clone(),
            slot: slot.slot,
            owner: None,
            status: Status::Published,
            url: None,
            previous_upload_id: Some(removed),
            previous_url: previous_image_url(state, media),
            revision: Some(state.revision),
            reason: None,
            detected_type: None,
            width: None,
            height: None,
            bytes: None,
            decline_reason: None,
            moderator: None,
            first_approver: None,
            correlation_id: None,
            escalation_level: None,
        })
    }
}

/// `{restaurant}.{slot}.{revision}.{type}`: one id per change of a slot.
fn slot_event_id(state: &SlotState, event_type: EventType) -> String {
    let slot = &state.slot;
    format!(
        "{}.{}.{}.{}",
        slot.restaurant,
        slot.slot,
        state.revision,
        event_type.as_str()
    )
}

/// The public URL of the image the slot showed before this change, where one is served.
fn previous_image_url(state: &SlotState, media: &MediaUrls) -> Option<String> {
    let previous = state.previous?;
    media.image(&previous, &ObjectKey::published(&state.slot, &previous))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_exactly_one_status_and_spelling() {
        for event_type in EventType::ALL {
            if matches!(
                event_type,
                EventType::SlotChanged | EventType::SlotCleared | EventType::ReviewEscalated
            ) {
                continue;
            }
            let statuses: Vec<Status> = Status::ALL
                .into_iter()
                .filter(|s| EventType::for_status(*s) == Some(event_type))
                .collect();
            assert_eq!(statuses.len(), 1, "{event_type:?}");
            let json = serde_json::to_string(&event_type).unwrap();
            assert_eq!(json, format!("\"{}\"", event_type.as_str()));
        }
    }
}
