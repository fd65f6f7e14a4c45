//! Request and response bodies of the restaurant routes, as `schemas/api/restaurant*.json` and
//! `schemas/api/slot*.json` describe them.

use serde::{Deserialize, Serialize};
use vetted_core::media::MediaUrls;
use vetted_core::restaurant::{Member, MemberRole, Restaurant, SlotImage, SlotState};
use vetted_core::{
    ImageType, OwnerId, RestaurantId, Slot, SlotKind, Status, Timestamp, UploadId, UploadRecord,
};

use crate::policy::PolicyView;

/// `POST /api/restaurants`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRestaurantRequest {
    /// Lowercase letters, digits and '-'; generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    /// Users who become its owners.
    #[serde(default)]
    pub owners: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestaurantView {
    pub id: RestaurantId,
    pub name: String,
    pub created_at: Timestamp,
    /// The caller's role, for a member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<MemberRole>,
}

impl RestaurantView {
    pub fn new(restaurant: Restaurant, role: Option<MemberRole>) -> Self {
        Self {
            id: restaurant.id,
            name: restaurant.name,
            created_at: restaurant.created_at,
            role,
        }
    }
}

/// `GET /api/restaurants`.
#[derive(Debug, Clone, Serialize)]
pub struct RestaurantList {
    pub items: Vec<RestaurantView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub user: OwnerId,
    pub role: MemberRole,
    pub added_at: Timestamp,
}

impl From<Member> for MemberView {
    fn from(member: Member) -> Self {
        Self {
            user: member.user,
            role: member.role,
            added_at: member.added_at,
        }
    }
}

/// `GET /api/restaurants/{id}/members`.
#[derive(Debug, Clone, Serialize)]
pub struct MemberList {
    pub items: Vec<MemberView>,
}

/// `PUT /api/restaurants/{id}/members/{user}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutMemberRequest {
    pub role: MemberRole,
}

/// A published image as a slot shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SlotImageView {
    pub upload_id: UploadId,
    pub content_type: ImageType,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub decided_at: Timestamp,
    pub published_at: Timestamp,
    /// The image's public URL, where one is served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl SlotImageView {
    pub fn new(image: &SlotImage, media: &MediaUrls) -> Self {
        Self {
            upload_id: image.upload,
            content_type: image.image_type,
            width: image.width,
            height: image.height,
            bytes: image.bytes,
            decided_at: image.decided_at,
            published_at: image.published_at,
            url: media.image(&image.upload, &image.key),
        }
    }
}

/// One slot of a restaurant.
#[derive(Debug, Clone, Serialize)]
pub struct SlotView {
    pub slot: Slot,
    pub kind: SlotKind,
    /// What the slot shows now; absent before its first publish.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<SlotImageView>,
    /// The URL that always shows the live image, where the backend serves one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_url: Option<String>,
    /// Changes so far; a rollback names the revision it expects.
    pub revision: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_upload_id: Option<UploadId>,
    /// In the slots listing: the change requests whose file arrived and that have no
    /// outcome yet, newest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<Vec<PendingRequest>>,
}

/// A change request of a slot that is still in progress.
#[derive(Debug, Clone, Serialize)]
pub struct PendingRequest {
    pub upload_id: UploadId,
    /// `RECEIVED`, `IN_REVIEW`, `DECIDED` or `APPROVED`.
    pub status: Status,
    pub filename: String,
    pub requested_by: OwnerId,
    pub created_at: Timestamp,
}

impl PendingRequest {
    pub fn new(record: &UploadRecord) -> Self {
        Self {
            upload_id: record.id,
            status: record.status,
            filename: record.filename.as_str().to_owned(),
            requested_by: record.owner.clone(),
            created_at: record.created_at,
        }
    }
}

impl SlotView {
    /// The slot's state, without `pending`, which only the listing reads.
    pub fn new(state: &SlotState, media: &MediaUrls) -> Self {
        Self {
            slot: state.slot.slot,
            kind: state.slot.slot.kind(),
            live: state
                .live
                .as_ref()
                .map(|image| SlotImageView::new(image, media)),
            live_url: state.live.as_ref().and_then(|_| media.live(&state.slot)),
            revision: state.revision,
            previous_upload_id: state.previous,
            pending: None,
        }
    }
}

/// `GET /api/restaurants/{id}/slots`.
#[derive(Debug, Clone, Serialize)]
pub struct SlotList {
    pub restaurant: RestaurantId,
    pub items: Vec<SlotView>,
    /// The policy of each kind, for checking a file before sending it.
    pub policies: std::collections::BTreeMap<SlotKind, PolicyView>,
}

/// `GET /api/restaurants/{id}/slots/{slot}/history`.
#[derive(Debug, Clone, Serialize)]
pub struct SlotHistory {
    pub items: Vec<SlotImageView>,
}

/// `POST /api/restaurants/{id}/slots/{slot}/remove`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemovalRequest {
    /// The revision the owner looked at; if the slot moved since, nothing changes (409).
    pub expected_revision: u64,
}

/// `POST /api/restaurants/{id}/slots/{slot}/rollback`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    pub upload_id: UploadId,
    /// The revision the moderator looked at; if the slot moved since, nothing changes (409).
    pub expected_revision: u64,
}
