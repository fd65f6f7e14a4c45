//! `POST /api/reviews/{id}/decision`: a moderator approves or declines.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use vetted_core::review::{DecisionError, DecisionOutcome};
use vetted_core::{Decision, UploadId, UploadRecord};

use super::views::{DecisionRequest, DecisionResponse};
use crate::ApiState;
use crate::auth::ModeratorCaller;
use crate::body::JsonBody;
use crate::error::{ApiError, reasons};

#[tracing::instrument(skip_all, fields(upload_id = %id, moderator = %moderator))]
pub(super) async fn decide(
    State(state): State<ApiState>,
    ModeratorCaller(moderator): ModeratorCaller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<DecisionRequest>,
) -> Result<(StatusCode, Json<DecisionResponse>), ApiError> {
    let id = UploadId::parse(&id).map_err(|_| ApiError::upload_not_found())?;
    if request.decision == Decision::Approve && request.reason.is_some() {
        return Err(ApiError::bad_request(
            reasons::INVALID_BODY,
            "reason applies only to a decline",
        ));
    }
    let outcome = state
        .review
        .decide(id, moderator, request.decision, request.reason)
        .await
        .map_err(decision_error)?;
    let (status, record, delivered) = match outcome {
        DecisionOutcome::Delivered(record) => (StatusCode::OK, record, true),
        DecisionOutcome::Pending(record) | DecisionOutcome::AwaitingSecond(record) => {
            (StatusCode::ACCEPTED, record, false)
        }
    };
    Ok((status, Json(response(&record, request.decision, delivered))))
}

fn response(record: &UploadRecord, decision: Decision, delivered: bool) -> DecisionResponse {
    DecisionResponse {
        upload_id: record.id,
        status: record.status,
        decision,
        decline_reason: record.decline_reason,
        delivered,
    }
}

fn decision_error(error: DecisionError) -> ApiError {
    match error {
        DecisionError::NotFound(_) => ApiError::upload_not_found(),
        DecisionError::AlreadyDecided { status, .. } => ApiError::new(
            StatusCode::CONFLICT,
            reasons::ALREADY_DECIDED,
            format!("another decision was made first; the upload is {status}"),
        ),
        DecisionError::NotInReview { status, .. } => ApiError::new(
            StatusCode::CONFLICT,
            reasons::NOT_IN_REVIEW,
            format!("the upload is {status}, not waiting for review"),
        ),
        DecisionError::SameModerator { .. } => ApiError::new(
            StatusCode::CONFLICT,
            reasons::SAME_MODERATOR,
            "you gave the first approval; a different moderator must give the second",
        ),
        DecisionError::ConflictOfInterest { .. } => ApiError::new(
            StatusCode::FORBIDDEN,
            reasons::CONFLICT_OF_INTEREST,
            "you asked for this upload or belong to its restaurant; another moderator must decide",
        ),
        DecisionError::TimedOut { .. } => ApiError::new(
            StatusCode::GONE,
            reasons::REVIEW_TIMED_OUT,
            "the review timed out before the decision arrived; the upload has expired",
        ),
        DecisionError::Step(source) => {
            let retryable = vetted_core::ports::Retryable::is_retryable(&source);
            ApiError::backend("recording the decision", &source, retryable)
        }
    }
}
