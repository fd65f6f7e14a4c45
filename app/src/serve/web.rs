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

/// `(name, contents)` of a file in `web/`, built into the binary: each file is named once.
macro_rules! web_file {
    ($name:literal) => {
        ($name, include_str!(concat!("../../../web/", $name)))
    };
}

/// `(name, Content-Type, contents)` of an asset; an unknown kind of file fails the build.
macro_rules! asset_file {
    ($name:literal) => {
        (
            $name,
            content_type_of($name),
            include_str!(concat!("../../../web/", $name)),
        )
    };
}

/// The pages, at their own paths, with the headers of [`page`].
const PAGES: [(&str, (&str, &str)); 2] = [
    ("/", web_file!("index.html")),
    ("/moderate", web_file!("moderate.html")),
];

/// What the pages load, each at `/assets/{name}`.
const ASSETS: [(&str, &str, &str); 7] = [
    asset_file!("app.css"),
    asset_file!("common.js"),
    asset_file!("owner.js"),
    asset_file!("live.js"),
    asset_file!("moderate.js"),
    asset_file!("session.js"),
    asset_file!("upload.js"),
];

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob: http: https:; connect-src 'self' http: https:; \
    form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new();
    for (path, (_, html)) in PAGES {
        router = router.route(path, get(move || async move { page(html) }));
    }
    for (name, content_type, body) in ASSETS {
        router = router.route(
            &format!("/assets/{name}"),
            get(move || async move { asset(content_type, body) }),
        );
    }
    router
}

/// The Content-Type of an asset, from its extension; evaluated when the binary is built, so
/// a kind of file not listed here is a build error.
const fn content_type_of(name: &str) -> &'static str {
    if ends_with(name, ".css") {
        "text/css; charset=utf-8"
    } else if ends_with(name, ".js") {
        "text/javascript; charset=utf-8"
    } else {
        panic!("no Content-Type is known for this kind of file in web/")
    }
}

const fn ends_with(text: &str, suffix: &str) -> bool {
    let (text, suffix) = (text.as_bytes(), suffix.as_bytes());
    if suffix.len() > text.len() {
        return false;
    }
    let offset = text.len() - suffix.len();
    let mut i = 0;
    while i < suffix.len() {
        if text[offset + i] != suffix[i] {
            return false;
        }
        i += 1;
    }
    true
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{ASSETS, PAGES};

    #[test]
    fn every_file_in_web_is_served_once() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
        let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        let served: Vec<&str> = PAGES
            .iter()
            .map(|(_, (name, _))| *name)
            .chain(ASSETS.iter().map(|(name, _, _)| *name))
            .collect();
        let unique: BTreeSet<String> = served.iter().map(|n| (*n).to_owned()).collect();
        assert_eq!(
            unique.len(),
            served.len(),
            "a file is served twice: {served:?}"
        );
        assert_eq!(unique, on_disk, "web/ and the served files differ");
    }
}
