//! `GET /api/policy`: the upload policy this server enforces, so that a page can refuse a file
//! before sending it with the same limits the API and the gate apply afterwards.
//!
//! Any signed-in caller may read it (owners need it to upload; nothing in it is secret); no
//! token is 401. Only what a client can check is shown: not the gate's read sizes.

use axum::Json;
use axum::Router;
use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::routing::get;
use serde::Serialize;
use std::sync::Arc;
use vetted_core::Policy;

use crate::ApiState;
use crate::auth::Authenticator;
use crate::error::ApiError;

pub fn routes() -> Router<ApiState> {
    Router::new().route("/api/policy", get(policy))
}

/// The policy as `schemas/api/policy.json` describes it.
#[derive(Debug, Serialize)]
pub struct PolicyView {
    /// MIME types, in a stable order.
    pub allowed_types: Vec<&'static str>,
    pub min_bytes: u64,
    pub max_bytes: u64,
    pub min_side: u32,
    pub max_side: u32,
    pub max_pixels: u64,
}

impl From<&Policy> for PolicyView {
    fn from(policy: &Policy) -> Self {
        Self {
            allowed_types: policy.allowed_types.iter().map(|t| t.mime()).collect(),
            min_bytes: policy.min_bytes,
            max_bytes: policy.max_bytes,
            min_side: policy.min_side,
            max_side: policy.max_side,
            max_pixels: policy.max_pixels,
        }
    }
}

/// A caller with a valid token, whatever its roles.
struct SignedIn;

impl<S> FromRequestParts<S> for SignedIn
where
    S: Send + Sync,
    Arc<Authenticator>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let auth = Arc::<Authenticator>::from_ref(state);
        auth.from_headers(&parts.headers).await?;
        Ok(SignedIn)
    }
}

async fn policy(State(state): State<ApiState>, _caller: SignedIn) -> Json<PolicyView> {
    Json(PolicyView::from(state.policy.as_ref()))
}
