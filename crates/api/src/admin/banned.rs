//! The banned-content list, for admins: SHA-256 digests refused for good as `banned_content`.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/admin/banned` | every entry, newest first |
//! | `PUT /api/admin/banned/{sha256}` | ban a digest (body `{"note": "…"}`, optional); again updates its note |
//! | `DELETE /api/admin/banned/{sha256}` | unban it; 404 when it was not banned |
//!
//! `{sha256}` is the digest in hex, as `sha256sum` prints it (64 digits, either case); the
//! answers also carry its base64, as uploads show it. Each ban and unban is an audit entry
//! whose note names the digest. Only admins reach these routes (no token 401, another role
//! 403). Needs no intake or queues: mounted wherever the API has its stores.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use vetted_core::ContentSha256;
use vetted_core::audit::{self, AuditAction, AuditEntry, MAX_NOTE_BYTES};
use vetted_core::banned::BannedEntry;
use vetted_core::ports::{BannedError, Retryable};

use crate::ApiState;
use crate::auth::AdminCaller;
use crate::body::JsonBody;
use crate::error::{ApiError, reasons};

pub fn routes() -> Router<ApiState> {
    Router::new().route("/api/admin/banned", get(list)).route(
        "/api/admin/banned/{sha256}",
        get(show).put(ban).delete(unban),
    )
}

/// One entry as the API shows it.
#[derive(Debug, Serialize)]
pub struct BannedView {
    pub sha256_hex: String,
    pub sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub by: String,
    pub at: String,
}

impl From<&BannedEntry> for BannedView {
    fn from(entry: &BannedEntry) -> Self {
        Self {
            sha256_hex: entry.sha256.to_hex(),
            sha256: entry.sha256.to_base64(),
            note: entry.note.clone(),
            by: entry.by.clone(),
            at: entry.at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct BannedList {
    pub items: Vec<BannedView>,
}

/// `PUT /api/admin/banned/{sha256}`: why, optionally.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanRequest {
    pub note: Option<String>,
}

fn digest(raw: &str) -> Result<ContentSha256, ApiError> {
    if raw.len() != 64 {
        return Err(invalid_digest());
    }
    ContentSha256::from_hex(raw).map_err(|_| invalid_digest())
}

fn invalid_digest() -> ApiError {
    ApiError::bad_request(
        reasons::INVALID_SHA256,
        "the path names a SHA-256 as 64 hex digits, as sha256sum prints it",
    )
}

fn backend(context: &str, error: BannedError) -> ApiError {
    let retryable = error.is_retryable();
    ApiError::backend(context, &error, retryable)
}

fn not_banned() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        reasons::NOT_FOUND,
        "that SHA-256 is not banned",
    )
}

async fn list(
    State(state): State<ApiState>,
    AdminCaller(_admin): AdminCaller,
) -> Result<Json<BannedList>, ApiError> {
    let entries = state
        .review
        .ports
        .banned
        .list()
        .await
        .map_err(|e| backend("listing banned content", e))?;
    Ok(Json(BannedList {
        items: entries.iter().map(BannedView::from).collect(),
    }))
}

async fn show(
    State(state): State<ApiState>,
    AdminCaller(_admin): AdminCaller,
    Path(raw): Path<String>,
) -> Result<Json<BannedView>, ApiError> {
    let sha256 = digest(&raw)?;
    let entry = state
        .review
        .ports
        .banned
        .get(&sha256)
        .await
        .map_err(|e| backend("reading banned content", e))?
        .ok_or_else(not_banned)?;
    Ok(Json(BannedView::from(&entry)))
}

async fn ban(
    State(state): State<ApiState>,
    AdminCaller(admin): AdminCaller,
    Path(raw): Path<String>,
    JsonBody(request): JsonBody<BanRequest>,
) -> Result<Json<BannedView>, ApiError> {
    let sha256 = digest(&raw)?;
    if request
        .note
        .as_ref()
        .is_some_and(|n| n.len() > MAX_NOTE_BYTES)
    {
        return Err(ApiError::bad_request(
            reasons::INVALID_REQUEST,
            format!("note: at most {MAX_NOTE_BYTES} bytes"),
        ));
    }
    let entry = BannedEntry::new(
        sha256,
        request.note.as_deref(),
        admin.as_str(),
        state.clock.now(),
    );
    state
        .review
        .ports
        .banned
        .ban(&entry)
        .await
        .map_err(|e| backend("banning content", e))?;
    tracing::info!(%admin, sha256 = %sha256, "admin ban");
    let audit_entry = AuditEntry::operation(admin.as_str(), AuditAction::Ban, entry.at)
        .with_note(&format!("sha256 {}", sha256.to_hex()));
    audit::record(state.review.ports.audit.as_ref(), &audit_entry).await;
    Ok(Json(BannedView::from(&entry)))
}

async fn unban(
    State(state): State<ApiState>,
    AdminCaller(admin): AdminCaller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let sha256 = digest(&raw)?;
    let removed = state
        .review
        .ports
        .banned
        .unban(&sha256)
        .await
        .map_err(|e| backend("unbanning content", e))?;
    if !removed {
        return Err(not_banned());
    }
    tracing::info!(%admin, sha256 = %sha256, "admin unban");
    let entry = AuditEntry::operation(admin.as_str(), AuditAction::Unban, state.clock.now())
        .with_note(&format!("sha256 {}", sha256.to_hex()));
    audit::record(state.review.ports.audit.as_ref(), &entry).await;
    Ok(StatusCode::NO_CONTENT)
}
