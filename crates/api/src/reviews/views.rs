//! Request and response bodies of the review routes, as `schemas/api/review-*.json` describe
//! them. A moderator sees what a decision needs, and nothing internal: no key, no bucket, no
//! task token.

use serde::{Deserialize, Serialize};
use vetted_core::record::DeclineReason;
use vetted_core::{
    Decision, ImageType, ModeratorId, OwnerId, RestaurantId, Slot, SlotKind, Status, Timestamp,
    UploadId, UploadRecord,
};

use crate::policy::PolicyView;

/// One upload waiting for a decision.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewItem {
    pub upload_id: UploadId,
    pub owner: OwnerId,
    pub restaurant: RestaurantId,
    /// The restaurant's name, for people.
    pub restaurant_name: String,
    pub slot: Slot,
    pub kind: SlotKind,
    /// The rules of the slot's kind.
    pub policy: PolicyView,
    /// What the slot shows now, which this upload would replace; absent for an empty slot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveImage>,
    pub filename: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detected_type: Option<ImageType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    pub created_at: Timestamp,
    /// When it entered review; the queue is ordered by it.
    pub waiting_since: Timestamp,
    /// The escalation level the review reached (1, 2) as its deadline nears; absent while
    /// it has not been escalated. The console shows it as a badge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation_level: Option<u8>,
    /// A presigned GET of the sanitized preview (WebP), valid until `preview_expires_at`.
    pub preview_url: String,
    pub preview_expires_at: Timestamp,
    /// `IN_REVIEW`, or `AWAITING_SECOND` when one of two required approvals is given.
    pub status: Status,
    /// Four-eyes review: who gave the first approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_approver: Option<ModeratorId>,
}

/// The image a slot shows now, beside the proposed one.
#[derive(Debug, Clone, Serialize)]
pub struct LiveImage {
    pub upload_id: UploadId,
    pub width: u32,
    pub height: u32,
    /// A presigned GET of the published image, valid until `preview_expires_at`.
    pub url: String,
}

/// What a review item shows about the slot it would change.
pub struct SlotContext {
    pub restaurant_name: String,
    pub policy: PolicyView,
    pub live: Option<LiveImage>,
}

impl ReviewItem {
    pub fn new(
        record: &UploadRecord,
        slot: SlotContext,
        preview_url: String,
        preview_expires_at: Timestamp,
    ) -> Self {
        Self {
            upload_id: record.id,
            owner: record.owner.clone(),
            restaurant: record.target.restaurant.clone(),
            restaurant_name: slot.restaurant_name,
            slot: record.target.slot,
            kind: record.target.slot.kind(),
            policy: slot.policy,
            live: slot.live,
            filename: record.filename.as_str().to_owned(),
            detected_type: record.detected_type,
            width: record.width,
            height: record.height,
            bytes: record.bytes,
            created_at: record.created_at,
            waiting_since: record.status_since,
            escalation_level: record.escalation_level.filter(|level| *level > 0),
            preview_url,
            preview_expires_at,
            status: record.status,
            first_approver: record.first_approver.clone(),
        }
    }
}

/// `GET /api/reviews`.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewList {
    pub items: Vec<ReviewItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Which reviews to list: `pending` (`IN_REVIEW`, no approval yet) or `second` (four-eyes
/// review: `AWAITING_SECOND`, one approval given).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReviewFilter {
    #[default]
    Pending,
    Second,
}

/// The query string of `GET /api/reviews`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewQuery {
    #[serde(default)]
    pub status: ReviewFilter,
    /// Only uploads for this slot kind. Filters each page, so a page may hold fewer than
    /// `limit` items while `next` is still present.
    #[serde(default)]
    pub kind: Option<SlotKind>,
    pub limit: Option<u32>,
    pub after: Option<String>,
}

/// `POST /api/reviews/{id}/decision`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub decision: Decision,
    /// Only with `decline`; `other` when absent.
    #[serde(default)]
    pub reason: Option<DeclineReason>,
}

/// The answer to a decision: `200` once the workflow has it, `202` while its delivery is
/// pending (the decision is recorded and will be delivered).
#[derive(Debug, Clone, Serialize)]
pub struct DecisionResponse {
    pub upload_id: UploadId,
    pub status: Status,
    pub decision: Decision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<DeclineReason>,
    pub delivered: bool,
}
