//! `X-Request-Id`: every request gets one, and every log line written while it is handled
//! carries it. A client's own id is kept when it is sane (1 to 128 of `A-Za-z0-9-_.:`, the
//! same alphabet as a correlation id); anything else, or none, is replaced by a fresh random
//! one. The id is echoed in the response, so a user who reports a failure can quote it.
//!
//! [`layer`] wraps a whole router; `vetted serve` puts it around everything it answers, and
//! the upload-api Lambda around the API.

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use tracing::Instrument;

/// The header read and answered.
pub const REQUEST_ID: &str = "x-request-id";

/// The longest client id kept.
pub const MAX_LEN: usize = 128;

/// `router` with a request id on every request, its span and its response.
pub fn layer(router: Router) -> Router {
    router.layer(middleware::from_fn(with_request_id))
}

async fn with_request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_sane(value))
        .map_or_else(generate, str::to_owned);
    // The same value downstream, so a handler that reads the header sees the one logged.
    let header = HeaderValue::from_str(&id).ok();
    if let Some(value) = &header {
        request.headers_mut().insert(REQUEST_ID, value.clone());
    }
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let mut response = next.run(request).instrument(span).await;
    if let Some(value) = header {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// Whether a client's id is kept: bounded, and only characters that are safe in a log line
/// and a header.
pub fn is_sane(value: &str) -> bool {
    (1..=MAX_LEN).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// 128 random bits as 32 hex digits.
fn generate() -> String {
    let mut bytes = [0u8; 16];
    // Without randomness the id still has to be unique enough to find a line by: fall back
    // to the time.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = nanos.to_be_bytes();
    }
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app() -> Router {
        layer(Router::new().route(
            "/",
            get(|request: Request| async move {
                request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            }),
        ))
    }

    async fn answer(id: Option<&str>) -> (String, String) {
        let mut request = axum::http::Request::get("/");
        if let Some(id) = id {
            request = request.header(REQUEST_ID, id);
        }
        let response = app()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let echoed = response.headers()[REQUEST_ID].to_str().unwrap().to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        (echoed, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_sane_client_id_is_kept_and_echoed() {
        let (echoed, seen) = answer(Some("order-42.retry:1")).await;
        assert_eq!(echoed, "order-42.retry:1");
        assert_eq!(seen, echoed, "the handler sees the id that is logged");
    }

    #[tokio::test]
    async fn a_missing_long_or_unsafe_id_is_replaced() {
        let long = "a".repeat(MAX_LEN + 1);
        for id in [
            None,
            Some(""),
            Some(long.as_str()),
            Some("a b"),
            Some("x\"y"),
        ] {
            let (echoed, seen) = answer(id).await;
            assert_eq!(echoed.len(), 32, "{id:?}");
            assert!(echoed.bytes().all(|b| b.is_ascii_hexdigit()), "{id:?}");
            assert_eq!(seen, echoed);
        }
        let (first, _) = answer(None).await;
        let (second, _) = answer(None).await;
        assert_ne!(first, second);
    }

    #[test]
    fn the_longest_sane_id_is_kept() {
        assert!(is_sane(&"a".repeat(MAX_LEN)));
        assert!(!is_sane("é"));
    }
}
