//! The audit trail, read: one upload's history, and every entry since an instant.
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET /api/uploads/{id}/history` | moderators, admins; members of the upload's restaurant | the upload's entries, oldest first; members see roles instead of moderator ids |
//! | `GET /api/audit?since=` | admins | every entry since `since` (default: a day ago), oldest first, paged |
//!
//! Nothing here writes: entries are appended where the change they record is made (decisions
//! in the core's review, rollbacks in the slot routes, operators' actions in the admin routes).
//! Upload ids are random (UUIDv7's 74 random bits), so history answers need no rate limit:
//! another restaurant's upload is 404, exactly like one that does not exist.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use vetted_core::audit::AuditEntry;
use vetted_core::ports::{AuditError, PageRequest, PageToken, Retryable};
use vetted_core::{OwnerId, Status, Timestamp, UploadId};

use crate::ApiState;
use crate::auth::{AdminCaller, AnyCaller, Role};
use crate::body::QueryParams;
use crate::error::{ApiError, reasons};
use crate::settings::MAX_PAGE_SIZE;

/// How far back `GET /api/audit` reads when no `since` is given.
const DEFAULT_LOOKBACK: Duration = Duration::from_secs(24 * 3600);

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/uploads/{id}/history", get(history))
        .route("/api/audit", get(audit))
}

/// `GET /api/uploads/{id}/history`.
#[derive(Debug, Serialize)]
pub struct UploadHistory {
    pub upload_id: UploadId,
    pub status: Status,
    pub entries: Vec<AuditEntry>,
}

/// `GET /api/audit`.
#[derive(Debug, Serialize)]
pub struct AuditList {
    pub items: Vec<AuditEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// RFC 3339.
    pub since: Option<String>,
    pub limit: Option<u32>,
    pub after: Option<String>,
}

fn trail_error(error: AuditError) -> ApiError {
    match error {
        AuditError::BadPageToken => ApiError::bad_request(
            reasons::INVALID_QUERY,
            "after is not a page token we issued",
        ),
        other => {
            let retryable = other.is_retryable();
            ApiError::backend("reading the audit trail", &other, retryable)
        }
    }
}

#[tracing::instrument(skip_all, fields(upload_id = %id))]
async fn history(
    State(state): State<ApiState>,
    AnyCaller(caller): AnyCaller,
    Path(id): Path<String>,
) -> Result<Json<UploadHistory>, ApiError> {
    let id = UploadId::parse(&id).map_err(|_| ApiError::upload_not_found())?;
    let record = state.uploads.get(&id).await?;
    let full = caller.has(Role::Moderator) || caller.has(Role::Admin);
    if !full {
        // A member of the upload's restaurant; anyone else is told it does not exist.
        let user = OwnerId::parse(&caller.subject).map_err(|_| ApiError::upload_not_found())?;
        state
            .restaurants
            .membership(&record.target.restaurant, &user)
            .await?
            .ok_or_else(ApiError::upload_not_found)?;
    }
    let entries = state
        .review
        .ports
        .audit
        .for_upload(&id)
        .await
        .map_err(trail_error)?;
    let entries = if full {
        entries
    } else {
        entries.into_iter().map(AuditEntry::for_owner).collect()
    };
    Ok(Json(UploadHistory {
        upload_id: id,
        status: record.status,
        entries,
    }))
}

#[tracing::instrument(skip_all, fields(admin = %admin))]
async fn audit(
    State(state): State<ApiState>,
    AdminCaller(admin): AdminCaller,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
    let limit = query.limit.unwrap_or(state.settings.default_page_size);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::bad_request(
            reasons::INVALID_QUERY,
            format!("limit must be 1 to {MAX_PAGE_SIZE}"),
        ));
    }
    let since = match &query.since {
        Some(text) => Timestamp::parse_rfc3339(text).map_err(|_| {
            ApiError::bad_request(
                reasons::INVALID_QUERY,
                "since must be an RFC 3339 date and time, e.g. 2026-12-01T00:00:00Z",
            )
        })?,
        None => Timestamp::from_unix_millis(
            state
                .clock
                .now()
                .unix_millis()
                .saturating_sub(DEFAULT_LOOKBACK.as_millis() as i64),
        ),
    };
    let page = PageRequest {
        limit,
        after: query.after.map(PageToken),
    };
    let page = state
        .review
        .ports
        .audit
        .since(since, &page)
        .await
        .map_err(trail_error)?;
    Ok(Json(AuditList {
        items: page.items,
        next: page.next.map(|token| token.0),
    }))
}
