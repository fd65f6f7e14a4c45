//! GET and HEAD through a presigned URL, with a single `Range`, for previews and vetted images.
//!
//! The body is streamed from the store in bounded ranged reads, so a large object never sits
//! in memory. The stored content type is served with `nosniff`; `response-*` overrides in
//! the query are covered by the signature but deliberately not honoured, so a URL can never
//! make a stored object be served as, say, HTML.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, RANGE, X_CONTENT_TYPE_OPTIONS,
};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use vetted_core::ObjectKey;
use vetted_core::ports::{ObjectStore, StoreError};

use super::S3Endpoint;
use super::commit::quoted_etag;
use super::errors::{S3Error, S3ErrorCode};
use super::put::DEFAULT_CONTENT_TYPE;
use super::request::{RequestContext, check_query, readable_key};

/// How much is read from the store per step of a streamed body.
const READ_CHUNK: u64 = 256 * 1024;

/// A satisfiable byte range, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// Parses a `Range` header against the object's size. `Ok(None)` means "send it all": no
/// header, or one S3 ignores (malformed, or several ranges). Unsatisfiable is `InvalidRange`.
pub fn parse_range(header: Option<&str>, size: u64) -> Result<Option<ByteRange>, S3Error> {
    let Some(spec) = header.and_then(|value| value.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let number = |text: &str| -> Option<u64> {
        let text = text.trim();
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    let unsatisfiable = || {
        S3Error::new(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        )
        .with("RangeRequested", format!("bytes={spec}"))
        .with("ActualObjectSize", size.to_string())
    };
    let range = match (number(first), number(last)) {
        (Some(start), Some(last)) if start <= last => {
            if start >= size {
                return Err(unsatisfiable());
            }
            ByteRange {
                start,
                end: last.saturating_add(1).min(size),
            }
        }
        (Some(start), None) if last.trim().is_empty() => {
            if start >= size {
                return Err(unsatisfiable());
            }
            ByteRange { start, end: size }
        }
        (None, Some(suffix)) if first.trim().is_empty() => {
            if suffix == 0 || size == 0 {
                return Err(unsatisfiable());
            }
            ByteRange {
                start: size.saturating_sub(suffix),
                end: size,
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(range))
}

/// The object's bytes from `start` to `end`, read from the store a chunk at a time.
fn stream_body(store: Arc<dyn ObjectStore>, key: ObjectKey, start: u64, end: u64) -> Body {
    let stream = futures_util::stream::unfold(Some(start), move |offset| {
        let store = Arc::clone(&store);
        let key = key.clone();
        async move {
            let offset = offset?;
            if offset >= end {
                return None;
            }
            let upto = offset.saturating_add(READ_CHUNK).min(end);
            match store.get_range(&key, offset..upto).await {
                // The object shrank under us: end the body short rather than loop.
                Ok(bytes) if bytes.is_empty() => {
                    Some((Err(std::io::Error::other("object ended early")), None))
                }
                Ok(bytes) => {
                    let next = offset.saturating_add(bytes.len() as u64);
                    Some((Ok::<Bytes, std::io::Error>(bytes), Some(next)))
                }
                Err(error) => Some((Err(std::io::Error::other(error)), None)),
            }
        }
    });
    Body::from_stream(stream)
}

pub async fn get_object(
    endpoint: &S3Endpoint,
    context: &RequestContext,
    parts: &Parts,
    raw_key: &str,
    head: bool,
) -> Result<Response, S3Error> {
    check_query(context, true)?;
    endpoint.verify(context, parts)?;
    let key = readable_key(raw_key)?;
    let meta = match endpoint.store.head(&key).await {
        Ok(meta) => meta,
        Err(StoreError::NotFound(_)) => {
            return Err(
                S3Error::new(S3ErrorCode::NoSuchKey, "The specified key does not exist.")
                    .with("Key", raw_key),
            );
        }
        Err(error) => return Err(S3Error::internal(&error)),
    };
    let range_header = parts
        .headers
        .get(RANGE)
        .and_then(|value| value.to_str().ok());
    let range = parse_range(range_header, meta.size)?;
    let (status, start, end) = match range {
        Some(range) => (StatusCode::PARTIAL_CONTENT, range.start, range.end),
        None => (StatusCode::OK, 0, meta.size),
    };
    let body = if head {
        Body::empty()
    } else {
        stream_body(Arc::clone(&endpoint.store), key, start, end)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let content_type = meta.content_type.as_deref().unwrap_or(DEFAULT_CONTENT_TYPE);
    let insert = |headers: &mut http::HeaderMap, name, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    insert(headers, CONTENT_TYPE, content_type.to_owned());
    insert(headers, CONTENT_LENGTH, (end - start).to_string());
    insert(headers, ETAG, quoted_etag(&meta.etag));
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if range.is_some() {
        insert(
            headers,
            CONTENT_RANGE,
            format!("bytes {start}-{}/{}", end.saturating_sub(1), meta.size),
        );
    }
    if let Some(version) = &meta.version {
        insert(
            headers,
            http::HeaderName::from_static("x-amz-version-id"),
            version.clone(),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(header: &str, size: u64) -> Result<Option<(u64, u64)>, S3ErrorCode> {
        parse_range(Some(header), size)
            .map(|r| r.map(|r| (r.start, r.end)))
            .map_err(|e| e.code)
    }

    #[test]
    fn single_ranges_follow_http_semantics() {
        assert_eq!(range("bytes=0-9", 100), Ok(Some((0, 10))));
        assert_eq!(range("bytes=90-200", 100), Ok(Some((90, 100))));
        assert_eq!(range("bytes=10-", 100), Ok(Some((10, 100))));
        assert_eq!(range("bytes=-10", 100), Ok(Some((90, 100))));
        assert_eq!(range("bytes=-500", 100), Ok(Some((0, 100))));
        assert_eq!(range("bytes=99-99", 100), Ok(Some((99, 100))));
    }

    #[test]
    fn unsatisfiable_ranges_are_invalid_range() {
        assert_eq!(range("bytes=100-", 100), Err(S3ErrorCode::InvalidRange));
        assert_eq!(range("bytes=100-200", 100), Err(S3ErrorCode::InvalidRange));
        assert_eq!(range("bytes=-0", 100), Err(S3ErrorCode::InvalidRange));
        assert_eq!(range("bytes=0-0", 0), Err(S3ErrorCode::InvalidRange));
    }

    #[test]
    fn ranges_s3_ignores_send_the_whole_object() {
        for ignored in [
            "bytes=5-2",
            "bytes=0-1,4-5",
            "items=0-1",
            "bytes=a-b",
            "bytes=",
            "bytes=-",
        ] {
            assert_eq!(range(ignored, 100), Ok(None), "{ignored}");
        }
        assert_eq!(parse_range(None, 100).unwrap(), None);
    }
}
