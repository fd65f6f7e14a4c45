//! CORS for browser uploads: answering preflights and adding the headers a browser needs to
//! read our responses (including errors, so the page can show S3's error code).
//!
//! Like an S3 bucket CORS rule: allowed origins are listed exactly (or `*` when configured),
//! methods are those the endpoint serves, any requested header is allowed, and `ETag` and the
//! request ids are exposed. A refused preflight is S3's `403 AccessDenied`.

use axum::response::Response;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, StatusCode};

use super::errors::{S3Error, S3ErrorCode};

const METHODS: [&str; 4] = ["GET", "HEAD", "PUT", "POST"];
const EXPOSED: &str = "ETag, Location, x-amz-request-id, x-amz-id-2, x-amz-version-id";

/// Which origins may call the endpoint from a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsRules {
    /// Exact origins (`scheme://host[:port]`), or `*` alone for any origin.
    pub allowed_origins: Vec<String>,
    pub max_age_secs: u32,
}

impl CorsRules {
    fn allows_any(&self) -> bool {
        self.allowed_origins.iter().any(|origin| origin == "*")
    }

    fn allows(&self, origin: &str) -> bool {
        self.allows_any() || self.allowed_origins.iter().any(|allowed| allowed == origin)
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, if it is allowed.
    fn allow_origin_value(&self, origin: &str) -> Option<HeaderValue> {
        if !self.allows(origin) {
            return None;
        }
        if self.allows_any() {
            return Some(HeaderValue::from_static("*"));
        }
        HeaderValue::from_str(origin).ok()
    }

    /// Answers an `OPTIONS` preflight.
    pub fn preflight(&self, request: &HeaderMap) -> Result<Response, S3Error> {
        let origin = request
            .get(ORIGIN)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::BadRequest,
                    "Insufficient information. Origin request header needed.",
                )
            })?;
        let method = request
            .get(ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::BadRequest,
                    "Invalid Access-Control-Request-Method: null",
                )
            })?;
        let refused = || {
            S3Error::access_denied(
                "CORSResponse: This CORS request is not allowed. This is usually because the evaluation of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
            )
        };
        if !METHODS.contains(&method) {
            return Err(refused());
        }
        let allow_origin = self.allow_origin_value(origin).ok_or_else(refused)?;
        let mut response = Response::new(axum::body::Body::empty());
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, PUT, POST"),
        );
        if let Some(requested) = request.get(ACCESS_CONTROL_REQUEST_HEADERS) {
            headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
        }
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
        headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(self.max_age_secs));
        headers.insert(
            VARY,
            HeaderValue::from_static(
                "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
            ),
        );
        Ok(response)
    }

    /// Adds CORS headers to an actual response when the request came from an allowed origin.
    pub fn decorate(&self, request: &HeaderMap, response: &mut Response) {
        let headers = response.headers_mut();
        headers.append(VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = request.get(ORIGIN).and_then(|value| value.to_str().ok()) else {
            return;
        };
        if let Some(allow_origin) = self.allow_origin_value(origin) {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
            headers.insert(
                ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(origins: &[&str]) -> CorsRules {
        CorsRules {
            allowed_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            max_age_secs: 600,
        }
    }

    fn request(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn an_allowed_preflight_echoes_origin_and_headers() {
        let response = rules(&["http://localhost:8080"])
            .preflight(&request(&[
                ("origin", "http://localhost:8080"),
                ("access-control-request-method", "PUT"),
                (
                    "access-control-request-headers",
                    "content-type,if-none-match",
                ),
            ]))
            .unwrap();
        let headers = response.headers();
        assert_eq!(
            headers[ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://localhost:8080"
        );
        assert_eq!(
            headers[ACCESS_CONTROL_ALLOW_HEADERS],
            "content-type,if-none-match"
        );
        assert_eq!(headers[ACCESS_CONTROL_MAX_AGE], "600");
        assert!(
            headers[ACCESS_CONTROL_ALLOW_METHODS]
                .to_str()
                .unwrap()
                .contains("POST")
        );
    }

    #[test]
    fn other_origins_and_methods_are_refused_as_s3_does() {
        let rules = rules(&["http://localhost:8080"]);
        for pairs in [
            vec![
                ("origin", "http://evil.example"),
                ("access-control-request-method", "PUT"),
            ],
            vec![
                ("origin", "http://localhost:8080"),
                ("access-control-request-method", "DELETE"),
            ],
        ] {
            let error = rules.preflight(&request(&pairs)).unwrap_err();
            assert_eq!(error.code, S3ErrorCode::AccessDenied);
        }
        let error = rules
            .preflight(&request(&[("access-control-request-method", "PUT")]))
            .unwrap_err();
        assert_eq!(error.code, S3ErrorCode::BadRequest);
    }

    #[test]
    fn a_wildcard_applies_only_when_configured() {
        let response = rules(&["*"])
            .preflight(&request(&[
                ("origin", "http://anywhere.example"),
                ("access-control-request-method", "POST"),
            ]))
            .unwrap();
        assert_eq!(response.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }

    #[test]
    fn responses_are_decorated_for_allowed_origins_only() {
        let rules = rules(&["http://localhost:8080"]);
        let mut allowed = Response::new(axum::body::Body::empty());
        rules.decorate(
            &request(&[("origin", "http://localhost:8080")]),
            &mut allowed,
        );
        assert_eq!(
            allowed.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://localhost:8080"
        );
        assert!(
            allowed.headers()[ACCESS_CONTROL_EXPOSE_HEADERS]
                .to_str()
                .unwrap()
                .contains("ETag")
        );
        let mut other = Response::new(axum::body::Body::empty());
        rules.decorate(&request(&[("origin", "http://evil.example")]), &mut other);
        assert!(other.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        assert_eq!(other.headers()[VARY], "Origin");
    }
}
