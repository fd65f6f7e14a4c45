//! The owner page (`/`) and the moderator console (`/moderate`): static files from `web/`,
//! built into the binary so that it serves them from anywhere, with no build step.
//!
//! Every page is served with a Content-Security-Policy that allows scripts from this origin
//! only (no inline script), so text a user controls (a filename, say) cannot run even if a
//! page forgot to escape it. Uploads and previews may go to another origin (S3 itself, on
//! the AWS backend), so `connect-src` and `img-src` also allow http(s) origins.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX_HTML: &str = include_str!("../../../web/index.html");
const MODERATE_HTML: &str = include_str!("../../../web/moderate.html");
const APP_CSS: &str = include_str!("../../../web/app.css");
const COMMON_JS: &str = include_str!("../../../web/common.js");
const OWNER_JS: &str = include_str!("../../../web/owner.js");
const MODERATE_JS: &str = include_str!("../../../web/moderate.js");
const SESSION_JS: &str = include_str!("../../../web/session.js");
const UPLOAD_JS: &str = include_str!("../../../web/upload.js");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob: http: https:; connect-src 'self' http: https:; \
    form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { page(INDEX_HTML) }))
        .route("/moderate", get(|| async { page(MODERATE_HTML) }))
        .route(
            "/assets/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route("/assets/common.js", get(|| async { script(COMMON_JS) }))
        .route("/assets/owner.js", get(|| async { script(OWNER_JS) }))
        .route("/assets/moderate.js", get(|| async { script(MODERATE_JS) }))
        .route("/assets/session.js", get(|| async { script(SESSION_JS) }))
        .route("/assets/upload.js", get(|| async { script(UPLOAD_JS) }))
}

fn page(html: &'static str) -> Response {
    let mut response = asset("text/html; charset=utf-8", html);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn script(js: &'static str) -> Response {
    asset("text/javascript; charset=utf-8", js)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
