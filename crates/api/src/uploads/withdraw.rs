//! `POST /api/uploads/{id}/withdraw`: take a request back before a moderator decides it.
//!
//! The member who asked for the change may withdraw it, and so may an owner of the
//! restaurant; other staff may read it but not withdraw it (403). Anyone else gets 404, as
//! for every upload route. Withdrawing a withdrawn upload again answers 200 and repeats the
//! clean-up, so a client that lost the first answer can simply retry.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use vetted_core::ports::Retryable;
use vetted_core::restaurant::MemberRole;
use vetted_core::review::WithdrawError;

use super::read::member_record_and_role;
use super::views::UploadView;
use crate::ApiState;
use crate::auth::OwnerCaller;
use crate::error::{ApiError, reasons};

#[tracing::instrument(skip(state, owner), fields(upload_id = %id))]
pub(super) async fn withdraw_upload(
    State(state): State<ApiState>,
    OwnerCaller(owner): OwnerCaller,
    Path(id): Path<String>,
) -> Result<Json<UploadView>, ApiError> {
    let (record, role) = member_record_and_role(&state, &owner, &id).await?;
    if record.owner != owner && role != MemberRole::Owner {
        return Err(ApiError::forbidden(
            "only the member who asked for this change, or an owner of the restaurant, can withdraw it",
        ));
    }
    let withdrawn = state
        .review
        .withdraw(record.id)
        .await
        .map_err(withdraw_error)?;
    if let Some(multipart) = &withdrawn.multipart_upload_id {
        super::multipart::abort_quietly(&state, &withdrawn.key, multipart).await;
    }
    Ok(Json(UploadView::new(
        &withdrawn,
        &state.policies,
        &state.media,
    )))
}

fn withdraw_error(error: WithdrawError) -> ApiError {
    match error {
        WithdrawError::NotFound(_) => ApiError::upload_not_found(),
        WithdrawError::TooLate { status, .. } => ApiError::new(
            StatusCode::CONFLICT,
            reasons::NOT_WITHDRAWABLE,
            format!("the upload is {status}; only an upload not yet decided can be withdrawn"),
        ),
        WithdrawError::Step(source) => {
            let retryable = source.is_retryable();
            ApiError::backend("withdrawing the upload", &source, retryable)
        }
    }
}
