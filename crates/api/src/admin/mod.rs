//! Operator recovery, for admins: what failed, and sending it back.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/admin/failed` | `FAILED` uploads with their cause, and each queue's dead letters |
//! | `POST /api/admin/uploads/{id}/redrive` | a `FAILED` upload back to `RECEIVED` and a new review |
//! | `POST /api/admin/queues/{queue}/redrive` | a queue's dead letters back to it |
//! | `POST /api/admin/expire` | expire intents past their deadline now |
//! | `POST /api/admin/rescan` | the gate again under today's policy: one upload, or a page of a slot kind's since a date |
//! | `POST /api/admin/purge` | delete every object and record of a restaurant or a user |
//! | `/api/admin/banned` | the banned-content list (see [`banned`]) |
//!
//! A purge takes its target and `dry_run` in its body, as a rescan does; one of something
//! that is not there (never was, or purged already) succeeds and deletes nothing, so an
//! interrupted purge is finished by running it again. A rescan reads and reports, moving nothing; a slot kind's is paged, and each answer's `next`
//! cursor is handed back for the next page (the CLI keeps it as its checkpoint). The other
//! `POST`s take `?dry_run=true`, which reports what would be done and writes nothing;
//! each is idempotent (a second redrive finds nothing `FAILED`, nothing dead). Only admins
//! reach these routes (no token 401, another role 403); an upload or queue that does not
//! exist is 404. The work is [`vetted_core::admin`]'s and
//! [`Intake::redrive_failed`](vetted_core::intake::Intake::redrive_failed).

pub mod banned;

use std::sync::Arc;
use vetted_core::audit::{self, AuditAction, AuditEntry};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use vetted_core::admin::purge::{self, PurgeReport, PurgeStores, PurgeTarget};
use vetted_core::admin::rescan::{
    RescanCursor, RescanPage, RescanSelection, RescanVerdict, rescan_page,
};
use vetted_core::admin::{self, AdminError, NamedQueue};
use vetted_core::intake::{Intake, RedriveOutcome, is_not_found};
use vetted_core::ports::Retryable;
use vetted_core::{ModeratorId, OwnerId, RestaurantId, SlotKind, Timestamp, UploadId};

use crate::ApiState;
use crate::auth::AdminCaller;
use crate::body::{JsonBody, QueryParams};
use crate::error::{ApiError, reasons};

/// What the admin routes work with, on a backend that gives the API its intake and queues.
#[derive(Clone)]
pub struct AdminApi {
    /// Intake, configured as the intake worker is: a redrive starts reviews through it.
    pub intake: Arc<Intake>,
    /// The work queues whose dead letters operators see and redrive.
    pub queues: Vec<NamedQueue>,
}

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/admin/failed", get(failed))
        .route("/api/admin/uploads/{id}/redrive", post(redrive_upload))
        .route("/api/admin/queues/{queue}/redrive", post(redrive_queue))
        .route("/api/admin/expire", post(expire))
        .route("/api/admin/rescan", post(rescan))
        .route("/api/admin/purge", post(purge))
        .merge(banned::routes())
}

/// `?dry_run=true|false`; absent means false.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DryRun {
    #[serde(default)]
    pub dry_run: bool,
}

fn api(state: &ApiState) -> Result<&AdminApi, ApiError> {
    state
        .admin
        .as_ref()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, reasons::NOT_FOUND, "no such route"))
}

/// A record-store error as the other routes answer it (404 for an unknown upload, 400 for a
/// page token the store never issued); any other as a backend failure.
fn admin_error(context: &str, error: AdminError) -> ApiError {
    if let AdminError::Uploads(e) = error {
        return ApiError::from(e);
    }
    let retryable = error.is_retryable();
    ApiError::backend(context, &error, retryable)
}

async fn failed(
    State(state): State<ApiState>,
    AdminCaller(_admin): AdminCaller,
) -> Result<Json<admin::FailedReport>, ApiError> {
    let api = api(&state)?;
    let report = admin::failed(state.uploads.as_ref(), &api.queues)
        .await
        .map_err(|e| admin_error("listing what failed", e))?;
    Ok(Json(report))
}

async fn redrive_upload(
    State(state): State<ApiState>,
    AdminCaller(admin): AdminCaller,
    Path(raw): Path<String>,
    QueryParams(query): QueryParams<DryRun>,
) -> Result<Json<RedriveOutcome>, ApiError> {
    let api = api(&state)?;
    let upload = UploadId::parse(&raw).map_err(|_| ApiError::upload_not_found())?;
    match api.intake.redrive_failed(&upload, query.dry_run).await {
        Ok(outcome) => {
            tracing::info!(%admin, upload_id = %upload, ?outcome, "admin redrive");
            if let RedriveOutcome::Redriven {
                execution, status, ..
            } = &outcome
            {
                let mut entry = operation(&state, &admin, AuditAction::Redrive);
                entry.upload = Some(upload);
                entry.note = Some(match execution {
                    Some(execution) => format!("now {status}, review {execution}"),
                    None => format!("now {status}"),
                });
                audit::record(state.review.ports.audit.as_ref(), &entry).await;
            }
            Ok(Json(outcome))
        }
        Err(e) if is_not_found(&e) => Err(ApiError::upload_not_found()),
        Err(e) => Err(ApiError::backend(
            "redriving the upload",
            &e,
            e.is_retryable(),
        )),
    }
}

async fn redrive_queue(
    State(state): State<ApiState>,
    AdminCaller(admin): AdminCaller,
    Path(name): Path<String>,
    QueryParams(query): QueryParams<DryRun>,
) -> Result<Json<admin::DeadLetterRedrive>, ApiError> {
    let api = api(&state)?;
    let queue =
        api.queues.iter().find(|q| q.name == name).ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, reasons::NOT_FOUND, "no such queue")
        })?;
    let moved = admin::redrive_dead_letters(queue, query.dry_run)
        .await
        .map_err(|e| admin_error("redriving dead letters", e))?;
    tracing::info!(%admin, ?moved, "admin dead-letter redrive");
    if !moved.dry_run && moved.moved > 0 {
        let entry = operation(&state, &admin, AuditAction::Redrive).with_note(&format!(
            "{} dead letters back to queue {}",
            moved.moved, moved.queue
        ));
        audit::record(state.review.ports.audit.as_ref(), &entry).await;
    }
    Ok(Json(moved))
}

async fn expire(
    State(state): State<ApiState>,
    AdminCaller(admin): AdminCaller,
    QueryParams(query): QueryParams<DryRun>,
) -> Result<Json<admin::ExpireReport>, ApiError> {
    let api = api(&state)?;
    let report = admin::expire(&api.intake, query.dry_run)
        .await
        .map_err(|e| admin_error("expiring intents", e))?;
    tracing::info!(%admin, stale = report.stale.len(), dry_run = query.dry_run, "admin expire");
    if let Some(swept) = report
        .swept
        .as_ref()
        .filter(|s| s.expired + s.recovered > 0)
    {
        let entry = operation(&state, &admin, AuditAction::Expire).with_note(&format!(
            "{} intents expired, {} uploads recovered",
            swept.expired, swept.recovered
        ));
        audit::record(state.review.ports.audit.as_ref(), &entry).await;
    }
    Ok(Json(report))
}

/// Records looked at per rescan page when the request does not say.
const DEFAULT_RESCAN_PAGE: u32 = 25;
const MAX_RESCAN_PAGE: u32 = 100;

/// `POST /api/admin/rescan`: `upload`, or `slot_kind` and `since` (with the `cursor` of the
/// previous answer to go on).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RescanRequest {
    pub upload: Option<String>,
    pub slot_kind: Option<String>,
    /// RFC 3339: uploads created at or after it.
    pub since: Option<String>,
    pub cursor: Option<RescanCursor>,
    /// Records looked at on this page, 1 to 100.
    pub limit: Option<u32>,
    #[serde(default)]
    pub dry_run: bool,
}

fn invalid(message: &str) -> ApiError {
    ApiError::bad_request(reasons::INVALID_REQUEST, message)
}

async fn rescan(
    State(state): State<ApiState>,
    AdminCaller(admin): AdminCaller,
    JsonBody(request): JsonBody<RescanRequest>,
) -> Result<Json<RescanPage>, ApiError> {
    let api = api(&state)?;
    let selection = match (&request.upload, &request.slot_kind, &request.since) {
        (Some(upload), None, None) => {
            RescanSelection::One(UploadId::parse(upload).map_err(|_| ApiError::upload_not_found())?)
        }
        (None, Some(kind), Some(since)) => RescanSelection::SlotKind {
            kind: kind
                .parse::<SlotKind>()
                .map_err(|_| invalid("slot_kind: one of logo, cover, gallery"))?,
            since: Timestamp::parse_rfc3339(since)
                .map_err(|_| invalid("since: an RFC 3339 date-time"))?,
        },
        _ => return Err(invalid("either upload, or slot_kind and since")),
    };
    let limit = request.limit.unwrap_or(DEFAULT_RESCAN_PAGE);
    if !(1..=MAX_RESCAN_PAGE).contains(&limit) {
        return Err(invalid("limit: 1 to 100"));
    }
    let cursor = request.cursor.unwrap_or_default();
    let page = rescan_page(
        &api.intake.ports,
        &state.policies,
        &selection,
        &cursor,
        limit,
        request.dry_run,
    )
    .await
    .map_err(|e| admin_error("rescanning", e))?;
    let failing = page
        .results
        .iter()
        .filter(|r| !matches!(r.verdict, vetted_core::admin::rescan::RescanVerdict::Passes))
        .count();
    tracing::info!(%admin, scanned = page.results.len(), failing, "admin rescan");
    // One entry per upload read: what today's policy says of it.
    for result in page.results.iter().take_while(|_| !request.dry_run) {
        let mut entry = operation(&state, &admin, AuditAction::Rescan);
        entry.upload = Some(result.upload_id);
        entry.reason = match &result.verdict {
            RescanVerdict::Passes => Some("passes".to_owned()),
            RescanVerdict::Fails { reason } => Some(reason.as_str().to_owned()),
            RescanVerdict::ObjectGone => Some("object_gone".to_owned()),
            RescanVerdict::WouldScan => None,
        };
        audit::record(state.review.ports.audit.as_ref(), &entry).await;
    }
    Ok(Json(page))
}

/// An audit entry for an admin's action, now.
fn operation(state: &ApiState, admin: &ModeratorId, action: AuditAction) -> AuditEntry {
    AuditEntry::operation(admin.as_str(), action, state.clock.now())
}

/// `POST /api/admin/purge`: exactly one of `restaurant` and `user`, and `dry_run`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    pub restaurant: Option<String>,
    pub user: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
}

async fn purge(
    State(state): State<ApiState>,
    AdminCaller(admin): AdminCaller,
    JsonBody(request): JsonBody<PurgeRequest>,
) -> Result<Json<PurgeReport>, ApiError> {
    // Needs no intake or queues: mounted wherever the API has its stores.
    let target = match (&request.restaurant, &request.user) {
        (Some(id), None) => PurgeTarget::Restaurant(
            RestaurantId::parse(id)
                .map_err(|_| invalid("restaurant: a restaurant id (a-z, 0-9, '-')"))?,
        ),
        (None, Some(id)) => PurgeTarget::User(
            OwnerId::parse(id).map_err(|_| invalid("user: a user id (A-Z, a-z, 0-9, '-', '_')"))?,
        ),
        _ => return Err(invalid("either restaurant or user")),
    };
    let stores = PurgeStores {
        notifications: state.notifications.as_deref(),
        invitations: state.invitations.as_deref(),
    };
    let report = purge::purge(
        &state.review,
        stores,
        &target,
        admin.as_str(),
        request.dry_run,
    )
    .await
    .map_err(|e| admin_error("purging", e))?;
    tracing::info!(
        %admin,
        ?target,
        dry_run = request.dry_run,
        uploads = report.uploads.len(),
        "admin purge"
    );
    Ok(Json(report))
}
