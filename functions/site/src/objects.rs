//! The objects the site bucket holds: each file of `web/` under the key that makes the front
//! door serve it at the same path as `vetted serve` does. `/` is the distribution's default
//! root object, `index.html`; every other path is its own key (`moderate`,
//! `assets/app.css`), so no path rewriting is needed at the edge.

use vetted_web::WebFile;

/// The key CloudFront's `DefaultRootObject` names: what `/` serves.
pub const ROOT_OBJECT: &str = "index.html";

/// One object to put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteObject {
    pub key: String,
    pub content_type: &'static str,
    pub cache_control: &'static str,
    pub body: &'static str,
}

/// The key a file is served from, for the path `vetted serve` serves it at.
pub fn key_for(path: &str) -> String {
    match path.trim_start_matches('/') {
        "" => ROOT_OBJECT.to_owned(),
        key => key.to_owned(),
    }
}

fn object(file: &WebFile) -> SiteObject {
    SiteObject {
        key: key_for(file.path),
        content_type: file.content_type,
        cache_control: vetted_web::CACHE_CONTROL,
        body: file.body,
    }
}

/// Every object the site bucket holds, one per file of `web/`.
pub fn site_objects() -> Vec<SiteObject> {
    vetted_web::files().map(object).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn each_file_is_served_at_the_path_vetted_serve_uses() {
        let objects = site_objects();
        let keys: BTreeSet<&str> = objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys.len(), objects.len(), "two files share a key");
        assert!(keys.contains("index.html"), "{keys:?}");
        assert!(keys.contains("moderate"), "{keys:?}");
        assert!(keys.contains("assets/app.css"), "{keys:?}");
        let index = objects.iter().find(|o| o.key == ROOT_OBJECT).unwrap();
        assert_eq!(index.content_type, "text/html; charset=utf-8");
        assert_eq!(index.body, vetted_web::PAGES[0].body);
        let moderate = objects.iter().find(|o| o.key == "moderate").unwrap();
        assert_eq!(moderate.content_type, "text/html; charset=utf-8");
        for o in &objects {
            assert!(!o.key.starts_with('/'), "{}", o.key);
            assert_eq!(o.cache_control, "no-cache");
            if o.key.ends_with(".js") {
                assert_eq!(o.content_type, "text/javascript; charset=utf-8");
            }
        }
    }
}
