//! Domain events: one per status change, versioned, with an id derived from (upload, status).
//!
//! Events are built from the record *after* its transition, so an event can only say what
//! the record says. Because the id depends only on the upload and the status, re-sending an
//! event after a retry produces the same id, and consumers can drop the duplicate.

use serde::{Deserialize, Serialize};

use crate::ids::{OwnerId, UploadId};
use crate::image_type::ImageType;
use crate::reason::ReasonCode;
use crate::record::{DeclineReason, UploadRecord};
use crate::status::Status;
use crate::time::Timestamp;

/// The schema version of [`UploadEvent`]; bump it on any incompatible change.
pub const EVENT_VERSION: u32 = 1;

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
}

impl EventType {
    pub const ALL: [EventType; 8] = [
        EventType::UploadReceived,
        EventType::UploadRejected,
        EventType::ReviewRequested,
        EventType::ReviewApproved,
        EventType::ReviewDeclined,
        EventType::UploadPublished,
        EventType::UploadExpired,
        EventType::UploadFailed,
    ];

    /// The event a record entering `status` emits; `None` for statuses nobody outside needs
    /// to hear about (the intent itself, and the moderator's not-yet-applied decision).
    pub fn for_status(status: Status) -> Option<Self> {
        match status {
            Status::AwaitingUpload | Status::Decided => None,
            Status::Received => Some(EventType::UploadReceived),
            Status::Rejected => Some(EventType::UploadRejected),
            Status::InReview => Some(EventType::ReviewRequested),
            Status::Approved => Some(EventType::ReviewApproved),
            Status::Declined => Some(EventType::ReviewDeclined),
            Status::Published => Some(EventType::UploadPublished),
            Status::Expired => Some(EventType::UploadExpired),
            Status::Failed => Some(EventType::UploadFailed),
        }
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
        }
    }
}

/// What happened to an upload. Carries nothing internal: no task token, no moderator id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadEvent {
    /// `{upload_id}.{type}`: the same status change always has the same id.
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub version: u32,
    pub time: Timestamp,
    pub upload_id: UploadId,
    pub owner: OwnerId,
    pub status: Status,
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
}

impl UploadEvent {
    /// The event for the status `record` has just entered, if that status has one.
    pub fn for_record(record: &UploadRecord) -> Option<Self> {
        let event_type = EventType::for_status(record.status)?;
        Some(Self {
            id: format!("{}.{}", record.id, event_type.as_str()),
            event_type,
            version: EVENT_VERSION,
            time: record.status_since,
            upload_id: record.id,
            owner: record.owner.clone(),
            status: record.status,
            reason: record.reason,
            detected_type: record.detected_type,
            width: record.width,
            height: record.height,
            bytes: record.bytes,
            decline_reason: record.decline_reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_exactly_one_status_and_spelling() {
        for event_type in EventType::ALL {
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
