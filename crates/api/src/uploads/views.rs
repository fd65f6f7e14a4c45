//! Request and response bodies of the upload routes, as `schemas/api/*.json` describe them.
//!
//! A record is never serialised as it is stored: [`UploadView`] names what an owner may see,
//! so no key, bucket, object version, execution name, task token or failure detail leaves
//! the server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vetted_core::media::MediaUrls;
use vetted_core::policy::{SlotPolicies, explain_refusal};
use vetted_core::record::{DeclineReason, UploadMethod};
use vetted_core::{
    ContentSha256, CorrelationId, Decision, ImageType, ObjectKey, ReasonCode, RestaurantId, Slot,
    Status, Timestamp, UploadId, UploadRecord,
};

/// `POST /api/uploads`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUploadRequest {
    /// The restaurant the upload is for; the caller must be one of its members.
    pub restaurant: String,
    /// `logo`, `cover` or `gallery-N`.
    pub slot: String,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    #[serde(default)]
    pub method: Option<UploadMethod>,
    /// The client's own reference for this request (an order or request id), carried on
    /// every event of the upload; 1 to 128 of `A-Za-z0-9-_.:`. The upload id when absent.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// The file's SHA-256, base64: the store then refuses any other body.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// One form field of a presigned POST.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FormField {
    pub name: String,
    pub value: String,
}

/// `201` to `POST /api/uploads`: where and how to send the file.
#[derive(Debug, Clone, Serialize)]
pub struct CreateUploadResponse {
    pub upload_id: UploadId,
    pub method: UploadMethod,
    pub url: String,
    /// POST only: send these form fields in this order, then the file as the last part, `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<FormField>>,
    /// PUT and proxy: send exactly these headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    pub expires_at: Timestamp,
    /// What the upload's events will carry as `correlation_id`.
    pub correlation_id: CorrelationId,
    /// Multipart only: how the file is cut into parts. `url` is then where parts are asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multipart: Option<PartPlanView>,
}

/// How a multipart upload's file is cut: part `n` (from 1) is the bytes from
/// `(n - 1) * part_size`, `part_size` of them but for the last part.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PartPlanView {
    pub part_size: u64,
    pub part_count: u32,
}

/// `GET /api/uploads/{id}/parts`: the parts the store holds, for resuming.
#[derive(Debug, Clone, Serialize)]
pub struct PartList {
    #[serde(flatten)]
    pub plan: PartPlanView,
    /// When the whole upload must be completed.
    pub expires_at: Timestamp,
    pub parts: Vec<PartView>,
}

/// One part the store holds.
#[derive(Debug, Clone, Serialize)]
pub struct PartView {
    pub number: u32,
    pub size: u64,
    /// Absent where the store does not report it.
    pub sha256: Option<ContentSha256>,
}

/// `POST /api/uploads/{id}/parts`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignPartsRequest {
    pub parts: Vec<PartToSign>,
}

/// One part to sign: its number and the SHA-256 (base64) of its bytes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartToSign {
    pub number: u32,
    pub sha256: String,
}

/// `200` to `POST /api/uploads/{id}/parts`.
#[derive(Debug, Clone, Serialize)]
pub struct SignedParts {
    /// When these URLs stop working; ask again for fresh ones.
    pub expires_at: Timestamp,
    pub parts: Vec<SignedPart>,
}

/// Send the part's bytes with `PUT url` and exactly these headers.
#[derive(Debug, Clone, Serialize)]
pub struct SignedPart {
    pub number: u32,
    pub size: u64,
    pub url: String,
    pub headers: BTreeMap<String, String>,
}

/// An upload as its owner sees it.
#[derive(Debug, Clone, Serialize)]
pub struct UploadView {
    pub upload_id: UploadId,
    pub restaurant: RestaurantId,
    pub slot: Slot,
    pub filename: String,
    pub content_type: ImageType,
    pub size: u64,
    pub method: UploadMethod,
    pub status: Status,
    pub status_since: Timestamp,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub correlation_id: CorrelationId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReasonCode>,
    /// The rule broken, in words, under the slot's policy as it is now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detected_type: Option<ImageType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<ContentSha256>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<DeclineReason>,
    /// Once published: the image's public URL, where one is served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl UploadView {
    pub fn new(r: &UploadRecord, policies: &SlotPolicies, media: &MediaUrls) -> Self {
        let kind = r.target.slot.kind();
        let url = (r.status == Status::Published)
            .then(|| media.image(&r.id, &ObjectKey::published(&r.target, &r.id)))
            .flatten();
        Self {
            upload_id: r.id,
            restaurant: r.target.restaurant.clone(),
            slot: r.target.slot,
            filename: r.filename.as_str().to_owned(),
            content_type: r.declared_type,
            size: r.declared_size,
            method: r.method,
            status: r.status,
            status_since: r.status_since,
            created_at: r.created_at,
            expires_at: r.expires_at,
            correlation_id: r.correlation_id(),
            reason: r.reason,
            reason_message: r
                .reason
                .map(|code| explain_refusal(kind, code, policies.for_kind(kind))),
            detected_type: r.detected_type,
            width: r.width,
            height: r.height,
            bytes: r.bytes,
            sha256: r.sha256,
            decision: r.decision,
            decline_reason: r.decline_reason,
            url,
        }
    }
}

/// `GET /api/uploads`.
#[derive(Debug, Clone, Serialize)]
pub struct UploadList {
    pub items: Vec<UploadView>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The query string of `GET /api/uploads`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub limit: Option<u32>,
    pub after: Option<String>,
}

/// `201` to `PUT /api/uploads/{id}/content`.
#[derive(Debug, Clone, Serialize)]
pub struct ContentReceived {
    pub upload_id: UploadId,
    pub bytes: u64,
    pub status: Status,
}
