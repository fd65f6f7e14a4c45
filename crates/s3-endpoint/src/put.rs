//! PUT object through a presigned URL.
//!
//! Order: the query's sub-resources, the signature (and expiry), the key, `If-None-Match`,
//! `Content-Length` against the ceiling, then the body is streamed into a spool file under
//! the cap (and hashed when the signature promised a hash or the client pinned a checksum),
//! checked, and committed.

use axum::body::Body;
use axum::response::Response;
use futures_util::StreamExt;
use http::header::{
    CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH, TRANSFER_ENCODING,
};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};
use vetted_core::checksum::CHECKSUM_SHA256_FIELD;

use super::S3Endpoint;
use super::checksum;
use super::commit::{Commit, precondition_failed, quoted_etag};
use super::errors::{S3Error, S3ErrorCode};
use super::events::CreatedBy;
use super::form::too_large;
use super::presigned::PayloadCheck;
use super::request::{RequestContext, check_query, writable_key};
use super::sigv4;
use super::spool::{Spool, check_sha256};

/// S3's content type for an object uploaded without one.
pub const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

/// `Some(true)` for `If-None-Match: *`; other conditional forms are not implemented.
fn only_if_absent(headers: &HeaderMap) -> Result<bool, S3Error> {
    if headers.contains_key(IF_MATCH) {
        return Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            "If-Match on PUT is not supported by this endpoint.",
        ));
    }
    match headers.get(IF_NONE_MATCH) {
        None => Ok(false),
        Some(value) if value.as_bytes().trim_ascii() == b"*" => Ok(true),
        Some(_) => Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            "If-None-Match on PUT supports only '*'.",
        )),
    }
}

/// The object's content type: the request's `Content-Type`, else S3's default.
pub(crate) fn content_type_of(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or(DEFAULT_CONTENT_TYPE)
        .to_owned()
}

pub(crate) fn content_length(headers: &HeaderMap) -> Result<u64, S3Error> {
    let missing = || {
        S3Error::new(
            S3ErrorCode::MissingContentLength,
            "You must provide the Content-Length HTTP header.",
        )
    };
    if headers.contains_key(TRANSFER_ENCODING) {
        return Err(missing());
    }
    headers
        .get(CONTENT_LENGTH)
        .ok_or_else(missing)?
        .to_str()
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| S3Error::invalid_argument("Content-Length is not a number."))
}

pub async fn put_object(
    endpoint: &S3Endpoint,
    context: &RequestContext,
    parts: &Parts,
    raw_key: &str,
    body: Body,
) -> Result<Response, S3Error> {
    check_query(context, false)?;
    let verified = endpoint.verify(context, parts)?;
    let key = writable_key(raw_key)?;
    let only_if_absent = only_if_absent(&parts.headers)?;
    let query = sigv4::parse_query(context.query.as_deref()).unwrap_or_default();
    let pinned = checksum::pinned_in_put(&parts.headers, query)?;
    let length = content_length(&parts.headers)?;
    // The ceiling applies whether or not Content-Length was signed; a signed length is then
    // the exact size, which hyper holds the body to.
    let cap = endpoint.config.max_object_bytes;
    if length > cap {
        return Err(too_large(cap));
    }
    if only_if_absent && endpoint.exists(&key).await? {
        return Err(precondition_failed());
    }

    let expected_sha = match &verified.payload {
        PayloadCheck::Unsigned => None,
        PayloadCheck::Sha256(hash) => Some(hash.clone()),
    };
    let mut spool = Spool::create(
        &endpoint.config.spool_dir,
        cap.min(length),
        expected_sha.is_some() || pinned.is_some(),
    )
    .await?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            S3Error::new(
                S3ErrorCode::IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header.",
            )
        })?;
        spool.write(&chunk).await?;
    }
    let spooled = spool.finish().await?;
    if spooled.size != length {
        return Err(S3Error::new(
            S3ErrorCode::IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        ));
    }
    if let Some(expected) = &expected_sha {
        check_sha256(&spooled, expected)?;
    }
    if let Some(pinned) = &pinned {
        checksum::check_pinned(&spooled, pinned)?;
    }

    let content_type = content_type_of(&parts.headers);
    let meta = endpoint
        .commit(
            Commit {
                key: &key,
                content_type: &content_type,
                only_if_absent,
                created_by: CreatedBy::Put,
            },
            spooled,
            context,
        )
        .await?;

    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::OK;
    if let Ok(value) = HeaderValue::from_str(&quoted_etag(&meta.etag)) {
        response.headers_mut().insert(ETAG, value);
    }
    if let Some(pinned) = pinned
        && let Ok(value) = HeaderValue::from_str(&pinned.to_base64())
    {
        response.headers_mut().insert(CHECKSUM_SHA256_FIELD, value);
    }
    Ok(response)
}
