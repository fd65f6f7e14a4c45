//! Where published images are served: the public URL of one image, and of a slot's live one.
//!
//! On AWS the front door serves `published/` under `/media/`, so an image's URL is the media
//! base URL and its key below `published/`. `vetted serve` serves `/media/{upload}` for one image and `/media/{restaurant}/{slot}`
//! for whatever a slot shows now. Without a CDN, AWS images have no public URL.

use crate::ids::{ObjectKey, UploadId};
use crate::restaurant::SlotRef;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MediaUrls {
    /// Published images are not served publicly (AWS without a CDN).
    #[default]
    Unserved,
    /// A CDN that serves the bucket's `published/` prefix at `origin`: with
    /// `https://cdn.example.com/media`, `published/r1/logo/{upload}` is
    /// `https://cdn.example.com/media/r1/logo/{upload}` (the front door on AWS rewrites
    /// `/media/` back to `/published/`).
    Cdn { origin: String },
    /// `vetted serve`'s media routes, under its public URL: `http://127.0.0.1:8080`.
    Serve { base: String },
}

impl MediaUrls {
    /// The URL of one published image, stable for as long as the image is kept.
    pub fn image(&self, upload: &UploadId, published: &ObjectKey) -> Option<String> {
        match self {
            MediaUrls::Unserved => None,
            MediaUrls::Cdn { origin } => {
                let key = published.as_str();
                let below = key.strip_prefix(ObjectKey::PUBLISHED_PREFIX).unwrap_or(key);
                Some(format!("{}/{below}", trim(origin)))
            }
            MediaUrls::Serve { base } => Some(format!("{}/media/{upload}", trim(base))),
        }
    }

    /// The URL that always shows the slot's live image, where the backend has one.
    pub fn live(&self, slot: &SlotRef) -> Option<String> {
        match self {
            MediaUrls::Serve { base } => Some(format!("{}/media/{slot}", trim(base))),
            MediaUrls::Unserved | MediaUrls::Cdn { .. } => None,
        }
    }
}

fn trim(base: &str) -> &str {
    base.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restaurant::{RestaurantId, Slot};

    #[test]
    fn urls_follow_the_backend() {
        let slot = SlotRef::new(RestaurantId::parse("r1").unwrap(), Slot::Logo);
        let upload = UploadId::generate();
        let key = ObjectKey::published(&slot, &upload);
        let cdn = MediaUrls::Cdn {
            origin: "https://cdn.example.com/media/".to_owned(),
        };
        assert_eq!(
            cdn.image(&upload, &key).unwrap(),
            format!("https://cdn.example.com/media/r1/logo/{upload}")
        );
        assert_eq!(cdn.live(&slot), None);
        let serve = MediaUrls::Serve {
            base: "http://h:1".to_owned(),
        };
        assert_eq!(serve.live(&slot).unwrap(), "http://h:1/media/r1/logo");
        assert_eq!(MediaUrls::Unserved.image(&upload, &key), None);
    }
}
