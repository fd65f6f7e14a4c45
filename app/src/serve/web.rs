//! The owner page (`/`) and the moderator console (`/moderate`): the static files of `web/`,
//! built into the binary (`vetted_web`, which the site Lambda on AWS shares) so that it serves
//! them from anywhere, with no build step.
//!
//! Every page is served with a Content-Security-Policy that allows scripts from this origin
//! only (no inline script), so text a user controls (a filename, say) cannot run even if a
//! page forgot to escape it. Uploads and previews may go to another origin (S3 itself, on
//! the AWS backend), so `connect-src` and `img-src` also allow http(s) origins.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use vetted_web::{Kind, WebFile};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob: http: https:; connect-src 'self' http: https:; \
    form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new();
    for file in vetted_web::files() {
        router = router.route(file.path, get(move || async move { serve(file) }));
    }
    router
}

fn serve(file: &'static WebFile) -> Response {
    match file.kind {
        Kind::Page => page(file),
        Kind::Asset => asset(file),
    }
}

fn page(file: &'static WebFile) -> Response {
    let mut response = asset(file);
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

fn asset(file: &'static WebFile) -> Response {
    let mut response = file.body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(vetted_web::CACHE_CONTROL),
    );
    response
}
