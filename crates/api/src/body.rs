//! Request bodies and query strings, with their failures mapped to reason codes.
//!
//! axum's own `Json` and `Query` answer with plain-text errors; these wrappers answer
//! `invalid_json`, `unknown_field`, `invalid_request` or `invalid_query` in the API's JSON shape.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, reasons};

/// The largest JSON body accepted; a create request is a few hundred bytes.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// A JSON body, parsed whatever its `Content-Type` says.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_JSON_BYTES)
            .await
            .map_err(|e| {
                let too_large = e
                    .into_inner()
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some();
                if too_large {
                    ApiError::payload_too_large(MAX_JSON_BYTES as u64)
                } else {
                    // The client stopped sending (the server's stall timeout), or went away.
                    ApiError::bad_request(
                        reasons::INCOMPLETE_BODY,
                        "the request body stopped before it was complete",
                    )
                }
            })?;
        parse_json(&bytes).map(JsonBody)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        let message = e.to_string();
        match e.classify() {
            Category::Data if message.starts_with("unknown field") => {
                ApiError::bad_request(reasons::UNKNOWN_FIELD, message)
            }
            Category::Data => ApiError::bad_request(reasons::INVALID_REQUEST, message),
            Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request(
                reasons::INVALID_JSON,
                format!("the body is not valid JSON: {message}"),
            ),
        }
    })
}

/// A query string parsed into `T` (which should deny unknown fields).
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|query| QueryParams(query.0))
            .map_err(|e| ApiError::bad_request(reasons::INVALID_QUERY, e.body_text()))
    }
}
