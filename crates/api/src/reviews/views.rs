//! Request and response bodies of the review routes, as `schemas/api/review-*.json` describe
//! them. A moderator sees what a decision needs, and nothing internal: no key, no bucket, no
//! task token.

use serde::{Deserialize, Serialize};
use vetted_core::record::DeclineReason;
use vetted_core::{Decision, ImageType, OwnerId, Status, Timestamp, UploadId, UploadRecord};

/// One upload waiting for a decision.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewItem {
    pub upload_id: UploadId,
    pub owner: OwnerId,
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
    /// A presigned GET of the sanitized preview (WebP), valid until `preview_expires_at`.
    pub preview_url: String,
    pub preview_expires_at: Timestamp,
}

impl ReviewItem {
    pub fn new(record: &UploadRecord, preview_url: String, preview_expires_at: Timestamp) -> Self {
        Self {
            upload_id: record.id,
            owner: record.owner.clone(),
            filename: record.filename.as_str().to_owned(),
            detected_type: record.detected_type,
            width: record.width,
            height: record.height,
            bytes: record.bytes,
            created_at: record.created_at,
            waiting_since: record.status_since,
            preview_url,
            preview_expires_at,
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

/// Which reviews to list. Only `pending` exists today; the parameter is there so that other
/// queues (failed uploads, for operators) can be added without changing the route.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReviewFilter {
    #[default]
    Pending,
}

/// The query string of `GET /api/reviews`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewQuery {
    #[serde(default)]
    pub status: ReviewFilter,
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
