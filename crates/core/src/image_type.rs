//! The image formats Vetted can measure and re-encode.
//!
//! A policy's allowlist is a subset of these. Other formats (GIF, SVG, TIFF, ...) can be
//! recognised by the sniffer, but never accepted: the gate cannot read their headers safely
//! and the sanitizer does not re-encode them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ImageType {
    Jpeg,
    Png,
    Webp,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0:?} is not a supported image type (supported: image/jpeg, image/png, image/webp)")]
pub struct UnsupportedType(pub String);

impl ImageType {
    pub const ALL: [ImageType; 3] = [ImageType::Jpeg, ImageType::Png, ImageType::Webp];

    /// The one MIME type Vetted uses for this format, in requests, policies and records.
    pub fn mime(self) -> &'static str {
        match self {
            ImageType::Jpeg => "image/jpeg",
            ImageType::Png => "image/png",
            ImageType::Webp => "image/webp",
        }
    }

    /// Parses a MIME type exactly as Vetted writes it (case-insensitive, no parameters).
    /// `image/jpg` and friends are refused: a presigned POST pins the exact string.
    pub fn from_mime(mime: &str) -> Result<Self, UnsupportedType> {
        Self::ALL
            .into_iter()
            .find(|t| t.mime().eq_ignore_ascii_case(mime))
            .ok_or_else(|| UnsupportedType(mime.to_owned()))
    }

    /// The usual file extension, for published names and previews: the first of
    /// [`extensions`](Self::extensions).
    pub fn extension(self) -> &'static str {
        self.extensions()[0]
    }

    /// Every filename extension a file of this type may have, lowercase and without the dot,
    /// the usual one first. A policy's extension allowlist is made of these
    /// ([`Policy::allowed_extensions`](crate::Policy::allowed_extensions)).
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            ImageType::Jpeg => &["jpg", "jpeg"],
            ImageType::Png => &["png"],
            ImageType::Webp => &["webp"],
        }
    }
}

impl fmt::Display for ImageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mime())
    }
}

impl FromStr for ImageType {
    type Err = UnsupportedType;
    fn from_str(s: &str) -> Result<Self, UnsupportedType> {
        Self::from_mime(s)
    }
}

impl TryFrom<String> for ImageType {
    type Error = UnsupportedType;
    fn try_from(s: String) -> Result<Self, UnsupportedType> {
        Self::from_mime(&s)
    }
}

impl From<ImageType> for String {
    fn from(t: ImageType) -> String {
        t.mime().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_round_trips_and_rejects_lookalikes() {
        for t in ImageType::ALL {
            assert_eq!(ImageType::from_mime(t.mime()), Ok(t));
        }
        assert_eq!(ImageType::from_mime("IMAGE/PNG"), Ok(ImageType::Png));
        for bad in [
            "image/jpg",
            "image/svg+xml",
            "image/gif",
            "image/png; q=1",
            "",
            "png",
        ] {
            assert!(ImageType::from_mime(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn each_type_has_its_extensions_the_usual_one_first() {
        let table: Vec<_> = ImageType::ALL
            .into_iter()
            .map(|t| (t.mime(), t.extension(), t.extensions()))
            .collect();
        assert_eq!(
            table,
            [
                ("image/jpeg", "jpg", &["jpg", "jpeg"][..]),
                ("image/png", "png", &["png"][..]),
                ("image/webp", "webp", &["webp"][..]),
            ]
        );
    }
}
