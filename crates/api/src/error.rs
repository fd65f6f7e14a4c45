//! One error type for every handler: an HTTP status, a stable reason code and a sentence.
//!
//! The body is always `{"error": "<sentence for people>", "reason": "<code>"}`. Reason codes
//! are a public contract, listed in [`reasons`] and in `schemas/openapi.yaml`; clients switch
//! on them, so they are never renamed. Server faults are logged with their cause and answered
//! with a generic sentence, so that no internal detail leaks.

use std::error::Error as StdError;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use vetted_core::ReasonCode;
use vetted_core::error_chain::DisplayChain;
use vetted_core::ports::{
    InvitationsError, RestaurantsError, Retryable, SignerError, UploadsError, WebhooksError,
};

/// Every reason code the API answers with.
pub mod reasons {
    pub const UNAUTHENTICATED: &str = "unauthenticated";
    pub const FORBIDDEN: &str = "forbidden";
    pub const NOT_FOUND: &str = "not_found";
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    pub const INVALID_JSON: &str = "invalid_json";
    pub const UNKNOWN_FIELD: &str = "unknown_field";
    pub const INVALID_REQUEST: &str = "invalid_request";
    pub const INVALID_QUERY: &str = "invalid_query";
    pub const INVALID_PAGE_TOKEN: &str = "invalid_page_token";
    pub const INVALID_FILENAME: &str = "invalid_filename";
    /// The filename's extension is not one the slot kind takes, or not one of the declared
    /// type's.
    pub const EXTENSION_NOT_ALLOWED: &str = "extension_not_allowed";
    pub const INVALID_SLOT: &str = "invalid_slot";
    pub const INVALID_CORRELATION_ID: &str = "invalid_correlation_id";
    /// The declared `sha256` is not the canonical base64 of 32 bytes.
    pub const INVALID_SHA256: &str = "invalid_sha256";
    /// A proxy body whose SHA-256 is not the one declared.
    pub const CHECKSUM_MISMATCH: &str = "checksum_mismatch";
    pub const SLOT_MOVED: &str = "slot_moved";
    pub const NOT_IN_HISTORY: &str = "not_in_history";
    pub const SLOT_EMPTY: &str = "slot_empty";
    pub const NOT_REMOVABLE: &str = "not_removable";
    pub const ALREADY_EXISTS: &str = "already_exists";
    pub const INVALID_BODY: &str = "invalid_body";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    /// A proxy upload larger than this deployment's proxy cap: send it presigned instead.
    pub const TOO_LARGE_FOR_PROXY: &str = "too_large_for_proxy";
    pub const INCOMPLETE_BODY: &str = "incomplete_body";
    pub const TOO_MANY_REQUESTS: &str = "too_many_requests";
    pub const TOO_MANY_OPEN_UPLOADS: &str = "too_many_open_uploads";
    pub const TOO_MANY_ATTEMPTS: &str = "too_many_attempts";
    pub const TOO_MANY_INVITATIONS: &str = "too_many_invitations";
    pub const NOT_AWAITING_UPLOAD: &str = "not_awaiting_upload";
    pub const NOT_MULTIPART: &str = "not_multipart";
    pub const PARTS_MISSING: &str = "parts_missing";
    pub const INVALID_PART_NUMBER: &str = "invalid_part_number";
    pub const ALREADY_DECIDED: &str = "already_decided";
    pub const SAME_MODERATOR: &str = "same_moderator";
    pub const CONFLICT_OF_INTEREST: &str = "conflict_of_interest";
    pub const NOT_IN_REVIEW: &str = "not_in_review";
    pub const NOT_WITHDRAWABLE: &str = "not_withdrawable";
    pub const REVIEW_TIMED_OUT: &str = "review_timed_out";
    pub const INTERNAL: &str = "internal";
    pub const UNAVAILABLE: &str = "unavailable";
    pub const INVALID_WEBHOOK_URL: &str = "invalid_webhook_url";
    pub const FORBIDDEN_WEBHOOK_ADDRESS: &str = "forbidden_webhook_address";
    pub const WEBHOOK_DISABLED: &str = "webhook_disabled";
    pub const NO_EMAIL_IN_TOKEN: &str = "no_email_in_token";
    pub const INVALID_LAST_EVENT_ID: &str = "invalid_last_event_id";
    pub const TOO_MANY_STREAMS: &str = "too_many_streams";
    // Shared with the record's reason codes (`vetted_core::ReasonCode`).
    pub const TYPE_NOT_ALLOWED: &str = "type_not_allowed";
    pub const TYPE_MISMATCH: &str = "type_mismatch";
    pub const EMPTY: &str = "empty";
    pub const TOO_SMALL: &str = "too_small";
    pub const TOO_LARGE: &str = "too_large";
    pub const INTENT_EXPIRED: &str = "intent_expired";
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub reason: &'static str,
    pub message: String,
    /// `Retry-After` in seconds, on a 429.
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    reason: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            reason,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 429: a limit of the caller's is spent; `retry_after` says when to ask again (whole
    /// seconds, at least 1).
    pub fn too_many(
        reason: &'static str,
        message: impl Into<String>,
        retry_after: std::time::Duration,
    ) -> Self {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        Self {
            retry_after: Some(seconds.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, reason, message)
        }
    }

    pub fn bad_request(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason, message)
    }

    /// A bad-input refusal named by one of the record's reason codes.
    pub fn refused(code: ReasonCode, message: impl Into<String>) -> Self {
        Self::bad_request(code.as_str(), message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, reasons::UNAUTHENTICATED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, reasons::FORBIDDEN, message)
    }

    /// The same answer whether the upload does not exist or belongs to someone else, so that
    /// ids cannot be probed.
    pub fn upload_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, reasons::NOT_FOUND, "no such upload")
    }

    /// The same answer whether the restaurant does not exist or the caller is not a member.
    pub fn restaurant_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            reasons::NOT_FOUND,
            "no such restaurant",
        )
    }

    pub fn webhook_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            reasons::NOT_FOUND,
            "no such webhook endpoint",
        )
    }

    pub fn delivery_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            reasons::NOT_FOUND,
            "no such delivery",
        )
    }

    pub fn payload_too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            reasons::PAYLOAD_TOO_LARGE,
            format!("the body is larger than the {limit} bytes allowed here"),
        )
    }

    /// 413 for a proxy upload above the proxy cap (on Lambda, what fits in one invocation),
    /// however it is known: from the size declared when asking, from `Content-Length`, or by
    /// counting the body. `what` says which ("size 5000000", "the body").
    pub fn too_large_for_proxy(what: &str, limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            reasons::TOO_LARGE_FOR_PROXY,
            format!(
                "{what} is above the {limit} bytes a proxy upload may carry here; \
                 ask for a presigned upload (method post or put) and send the file to it instead"
            ),
        )
    }

    /// A fault on our side: logged with its cause, answered without it.
    pub fn internal(context: &str, error: &(dyn StdError + 'static)) -> Self {
        tracing::error!(error = %DisplayChain(error), "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            reasons::INTERNAL,
            "something went wrong on our side; try again later",
        )
    }

    /// A dependency that may come back: 503, so that clients retry.
    pub fn unavailable(context: &str, error: &(dyn StdError + 'static)) -> Self {
        tracing::warn!(error = %DisplayChain(error), "{context}");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            reasons::UNAVAILABLE,
            "a service we depend on is unavailable; try again shortly",
        )
    }

    /// A backend failure: 503 when a retry may succeed, else 500.
    pub fn backend(context: &str, error: &(dyn StdError + 'static), retryable: bool) -> Self {
        if retryable {
            Self::unavailable(context, error)
        } else {
            Self::internal(context, error)
        }
    }
}

impl From<UploadsError> for ApiError {
    fn from(error: UploadsError) -> Self {
        match error {
            UploadsError::NotFound(_) => Self::upload_not_found(),
            UploadsError::BadPageToken => Self::bad_request(
                reasons::INVALID_PAGE_TOKEN,
                "the page token is not one this API issued",
            ),
            other => {
                let retryable = other.is_retryable();
                Self::backend("upload store failed", &other, retryable)
            }
        }
    }
}

impl From<RestaurantsError> for ApiError {
    fn from(error: RestaurantsError) -> Self {
        match error {
            RestaurantsError::NotFound(_) => Self::restaurant_not_found(),
            RestaurantsError::AlreadyExists(id) => Self::new(
                StatusCode::CONFLICT,
                reasons::ALREADY_EXISTS,
                format!("restaurant {id} already exists"),
            ),
            RestaurantsError::NotInHistory { slot, upload } => Self::new(
                StatusCode::NOT_FOUND,
                reasons::NOT_IN_HISTORY,
                format!("{slot} never showed upload {upload}"),
            ),
            RestaurantsError::SlotEmpty { current } => Self::new(
                StatusCode::CONFLICT,
                reasons::SLOT_EMPTY,
                format!("{} shows no image to remove", current.slot),
            ),
            RestaurantsError::SlotMoved { expected, current } => Self::new(
                StatusCode::CONFLICT,
                reasons::SLOT_MOVED,
                format!(
                    "{} changed meanwhile: it is at revision {}, not {expected}; reload and retry",
                    current.slot, current.revision
                ),
            ),
            other => {
                let retryable = other.is_retryable();
                Self::backend("restaurant store failed", &other, retryable)
            }
        }
    }
}

impl From<WebhooksError> for ApiError {
    fn from(error: WebhooksError) -> Self {
        match error {
            WebhooksError::NotFound(_) => Self::webhook_not_found(),
            WebhooksError::DeliveryNotFound(_) => Self::delivery_not_found(),
            other => {
                let retryable = other.is_retryable();
                Self::backend("webhook store failed", &other, retryable)
            }
        }
    }
}

impl From<InvitationsError> for ApiError {
    fn from(error: InvitationsError) -> Self {
        let retryable = error.is_retryable();
        Self::backend("invitation store failed", &error, retryable)
    }
}

impl From<SignerError> for ApiError {
    fn from(error: SignerError) -> Self {
        let retryable = error.is_retryable();
        Self::backend("presigning failed", &error, retryable)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.message,
            reason: self.reason,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

pub(crate) async fn not_found_fallback() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, reasons::NOT_FOUND, "no such route")
}

pub(crate) async fn method_not_allowed_fallback() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        reasons::METHOD_NOT_ALLOWED,
        "this route does not accept that method",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_codes_match_the_record_codes() {
        for (api, core) in [
            (reasons::TYPE_NOT_ALLOWED, ReasonCode::TypeNotAllowed),
            (reasons::TYPE_MISMATCH, ReasonCode::TypeMismatch),
            (reasons::EMPTY, ReasonCode::Empty),
            (reasons::TOO_SMALL, ReasonCode::TooSmall),
            (reasons::TOO_LARGE, ReasonCode::TooLarge),
            (reasons::INTENT_EXPIRED, ReasonCode::IntentExpired),
        ] {
            assert_eq!(api, core.as_str());
            assert_eq!(ApiError::refused(core, "x").reason, api);
        }
    }
}
