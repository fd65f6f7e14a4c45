//! Operator recovery, for admins: what failed, and sending it back.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/admin/failed` | `FAILED` uploads with their cause, and each queue's dead letters |
//! | `POST /api/admin/uploads/{id}/redrive` | a `FAILED` upload back to `RECEIVED` and a new review |
//! | `POST /api/admin/queues/{queue}/redrive` | a queue's dead letters back to it |
//! | `POST /api/admin/expire` | expire intents past their deadline now |
//!
//! The `POST`s take `?dry_run=true`, which reports what would be done and writes nothing;
//! each is idempotent (a second redrive finds nothing `FAILED`, nothing dead). Only admins
//! reach these routes (no token 401, another role 403); an upload or queue that does not
//! exist is 404. The work is [`vetted_core::admin`]'s and
//! [`Intake::redrive_failed`](vetted_core::intake::Intake::redrive_failed).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use vetted_core::UploadId;
use vetted_core::admin::{self, AdminError, NamedQueue};
use vetted_core::intake::{Intake, RedriveOutcome, is_not_found};
use vetted_core::ports::Retryable;

use crate::ApiState;
use crate::auth::AdminCaller;
use crate::body::QueryParams;
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

fn admin_error(context: &str, error: &AdminError) -> ApiError {
    let retryable = match error {
        AdminError::Uploads(e) => e.is_retryable(),
        AdminError::Queue { source, .. } => source.is_retryable(),
        AdminError::Step(e) => e.is_retryable(),
    };
    ApiError::backend(context, error, retryable)
}

async fn failed(
    State(state): State<ApiState>,
    AdminCaller(_admin): AdminCaller,
) -> Result<Json<admin::FailedReport>, ApiError> {
    let api = api(&state)?;
    let report = admin::failed(state.uploads.as_ref(), &api.queues)
        .await
        .map_err(|e| admin_error("listing what failed", &e))?;
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
        .map_err(|e| admin_error("redriving dead letters", &e))?;
    tracing::info!(%admin, ?moved, "admin dead-letter redrive");
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
        .map_err(|e| admin_error("expiring intents", &e))?;
    tracing::info!(%admin, stale = report.stale.len(), dry_run = query.dry_run, "admin expire");
    Ok(Json(report))
}
