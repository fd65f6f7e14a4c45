//! `GET /api/policy`: the policy of each slot kind this server enforces, so that a page can
//! refuse a file before sending it with the same limits the API and the gate apply afterwards.
//!
//! Any signed-in caller may read it (owners need it to upload; nothing in it is secret); no
//! token is 401. Only what a client can check is shown: not the gate's read sizes.
//!
//! The filename extensions are shown per allowed type, so that a page refuses `logo.exe` and
//! `logo.jpg` declared `image/png` by the same rule as `POST /api/uploads` does.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;
use vetted_core::Policy;
use vetted_core::policy::SlotPolicies;

use crate::ApiState;
use crate::auth::AnyCaller;

pub fn routes() -> Router<ApiState> {
    Router::new().route("/api/policy", get(policy))
}

/// The policy as `schemas/api/policy.json` describes it.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyView {
    /// MIME types, in a stable order.
    pub allowed_types: Vec<&'static str>,
    /// For each allowed type, the filename extensions (lowercase, no dot, the usual one first)
    /// its files may have; a file's name must end in one of its declared type's. Derived from
    /// the types ([`Policy::allowed_extensions`]), never set on its own.
    pub allowed_extensions: BTreeMap<&'static str, &'static [&'static str]>,
    pub min_bytes: u64,
    pub max_bytes: u64,
    pub min_side: u32,
    pub max_side: u32,
    pub max_pixels: u64,
    /// How many different moderators must approve: 1, or 2 for four-eyes review.
    pub approvals_required: u8,
    /// What happens to bytes that already have a decision: `review` or `reuse`.
    pub known_content: &'static str,
    /// The narrowest width:height accepted, as `W:1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_aspect: Option<String>,
    /// The widest width:height accepted, as `W:1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_aspect: Option<String>,
    /// The same limits as decimals (width / height), for a page to compare against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_aspect_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_aspect_ratio: Option<f64>,
}

/// `GET /api/policy`: one policy per slot kind.
#[derive(Debug, Serialize)]
pub struct SlotPoliciesView {
    pub logo: PolicyView,
    pub cover: PolicyView,
    pub gallery: PolicyView,
    /// Gallery slots are `gallery-1` to `gallery-{gallery_positions}`.
    pub gallery_positions: u8,
    /// A file larger than this is best sent as a multipart upload, in parts of this size.
    pub multipart_part_bytes: u64,
}

impl From<&SlotPolicies> for SlotPoliciesView {
    fn from(policies: &SlotPolicies) -> Self {
        Self {
            logo: PolicyView::from(&policies.logo),
            cover: PolicyView::from(&policies.cover),
            gallery: PolicyView::from(&policies.gallery),
            gallery_positions: policies.gallery_positions,
            multipart_part_bytes: crate::settings::DEFAULT_MULTIPART_PART_BYTES,
        }
    }
}

impl From<&Policy> for PolicyView {
    fn from(policy: &Policy) -> Self {
        Self {
            allowed_types: policy.allowed_types.iter().map(|t| t.mime()).collect(),
            allowed_extensions: policy
                .allowed_types
                .iter()
                .map(|t| (t.mime(), t.extensions()))
                .collect(),
            min_bytes: policy.min_bytes,
            max_bytes: policy.max_bytes,
            min_side: policy.min_side,
            max_side: policy.max_side,
            max_pixels: policy.max_pixels,
            approvals_required: policy.approvals_required,
            known_content: policy.known_content.as_str(),
            min_aspect: policy.min_aspect.map(|a| a.to_string()),
            max_aspect: policy.max_aspect.map(|a| a.to_string()),
            min_aspect_ratio: policy
                .min_aspect
                .map(|a| f64::from(a.thousandths()) / 1000.0),
            max_aspect_ratio: policy
                .max_aspect
                .map(|a| f64::from(a.thousandths()) / 1000.0),
        }
    }
}

async fn policy(State(state): State<ApiState>, _caller: AnyCaller) -> Json<SlotPoliciesView> {
    Json(SlotPoliciesView {
        multipart_part_bytes: state.settings.multipart_part_bytes,
        ..SlotPoliciesView::from(state.policies.as_ref())
    })
}
