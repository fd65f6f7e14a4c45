//! The files of `web/`, built into whatever binary serves them, each with the URL path it is
//! served at and its Content-Type: `vetted serve` routes them (app/src/serve/web.rs), and on
//! AWS the site Lambda (functions/site) puts them into the site bucket behind CloudFront
//! under the same paths. One list, so that both serve the same pages at the same addresses.

/// Whether a file is a page (HTML, with the page headers) or something a page loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Page,
    Asset,
}

/// One file of `web/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebFile {
    /// Its name in `web/`.
    pub name: &'static str,
    /// Where it is served: `/`, `/moderate`, `/assets/app.css`.
    pub path: &'static str,
    pub kind: Kind,
    pub content_type: &'static str,
    pub body: &'static str,
}

/// Pages and assets may change with any deploy and have no fingerprint in their names, so
/// caches revalidate them every time (cheaply: an unchanged file answers 304).
pub const CACHE_CONTROL: &str = "no-cache";

/// A page at its own path.
macro_rules! page {
    ($path:literal, $name:literal) => {
        WebFile {
            name: $name,
            path: $path,
            kind: Kind::Page,
            content_type: "text/html; charset=utf-8",
            body: include_str!(concat!("../../../web/", $name)),
        }
    };
}

/// What the pages load, at `/assets/{name}`; an unknown kind of file fails the build.
macro_rules! asset {
    ($name:literal) => {
        WebFile {
            name: $name,
            path: concat!("/assets/", $name),
            kind: Kind::Asset,
            content_type: content_type_of($name),
            body: include_str!(concat!("../../../web/", $name)),
        }
    };
}

/// The pages, at their own paths.
pub const PAGES: [WebFile; 2] = [
    page!("/", "index.html"),
    page!("/moderate", "moderate.html"),
];

/// What the pages load, each at `/assets/{name}`.
pub const ASSETS: [WebFile; 10] = [
    asset!("account.js"),
    asset!("app.css"),
    asset!("common.js"),
    asset!("email_toggle.js"),
    asset!("owner.js"),
    asset!("live.js"),
    asset!("moderate.js"),
    asset!("multipart.js"),
    asset!("session.js"),
    asset!("upload.js"),
];

/// Every file: the pages, then the assets.
pub fn files() -> impl Iterator<Item = &'static WebFile> {
    PAGES.iter().chain(ASSETS.iter())
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::files;

    #[test]
    fn every_file_in_web_is_listed_once() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
        let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        let listed: Vec<&str> = files().map(|f| f.name).collect();
        let unique: BTreeSet<String> = listed.iter().map(|n| (*n).to_owned()).collect();
        assert_eq!(
            unique.len(),
            listed.len(),
            "a file is listed twice: {listed:?}"
        );
        assert_eq!(unique, on_disk, "web/ and the listed files differ");
        let paths: BTreeSet<&str> = files().map(|f| f.path).collect();
        assert_eq!(paths.len(), listed.len(), "two files share a path");
    }
}
