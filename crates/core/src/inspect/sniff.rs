//! Magic bytes: what a file's first bytes say it is.
//!
//! `infer` names whatever it recognises (PDF, ZIP, HTML, GIF, ...), which the CLI shows next to
//! a refusal. For the three formats the gate measures, the whole signature is checked here as
//! well: `infer` looks at only the first 3 or 4 bytes of a PNG or JPEG and at bytes 8-11 of a
//! WebP, and a signature that starts right but ends wrong is a damaged file, not a valid one.

use crate::image_type::ImageType;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
const JPEG_SIGNATURE: &[u8] = b"\xFF\xD8\xFF";
/// "RIFF", four bytes of size that can be anything, then "WEBP".
const WEBP_SIGNATURE: &[u8] = b"RIFF????WEBP";

/// The most bytes [`sniff`] looks at: the length of the longest signature (WebP's).
pub const SNIFF_LEN: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// The full signature of a format the gate can measure.
    Image(ImageType),
    /// What `infer` takes for this format, but the rest of the signature is wrong: a damaged
    /// file (e.g. a PNG whose line endings were rewritten in transit).
    DamagedSignature(ImageType),
    /// The bytes end inside a signature: the file is cut short, if these are all its bytes.
    PartialSignature(ImageType),
    /// Not one of the formats the gate measures; `infer`'s MIME type for it, if it knows one.
    Other { mime: Option<&'static str> },
}

impl Sniffed {
    /// The format the bytes claim to be, damaged or not.
    pub fn image_type(self) -> Option<ImageType> {
        match self {
            Sniffed::Image(t) | Sniffed::DamagedSignature(t) | Sniffed::PartialSignature(t) => {
                Some(t)
            }
            Sniffed::Other { .. } => None,
        }
    }

    /// A MIME type for what the bytes are, if anything recognises them.
    pub fn mime(self) -> Option<&'static str> {
        match self {
            Sniffed::Other { mime } => mime,
            other => other.image_type().map(ImageType::mime),
        }
    }
}

/// Looks at the first [`SNIFF_LEN`] bytes of `prefix`. Give it at least that many, or the whole
/// file: a shorter prefix of a longer file may be reported as a partial signature.
pub fn sniff(prefix: &[u8]) -> Sniffed {
    for image_type in ImageType::ALL {
        let signature = signature(image_type);
        if prefix.len() >= signature.len() {
            if matches(signature, prefix) {
                return Sniffed::Image(image_type);
            }
        } else if matches(&signature[..prefix.len()], prefix) && !prefix.is_empty() {
            return Sniffed::PartialSignature(image_type);
        }
    }
    let mime = infer::get(prefix).map(|kind| kind.mime_type());
    match mime.and_then(|m| ImageType::from_mime(m).ok()) {
        Some(image_type) => Sniffed::DamagedSignature(image_type),
        None => Sniffed::Other { mime },
    }
}

fn signature(image_type: ImageType) -> &'static [u8] {
    match image_type {
        ImageType::Jpeg => JPEG_SIGNATURE,
        ImageType::Png => PNG_SIGNATURE,
        ImageType::Webp => WEBP_SIGNATURE,
    }
}

/// `bytes` starts with `pattern`, where `?` in the pattern matches any byte.
fn matches(pattern: &[u8], bytes: &[u8]) -> bool {
    pattern
        .iter()
        .zip(bytes)
        .all(|(&want, &got)| want == b'?' || want == got)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_signatures_are_images() {
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR"),
            Sniffed::Image(ImageType::Png)
        );
        assert_eq!(
            sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF\0\x01"),
            Sniffed::Image(ImageType::Jpeg)
        );
        assert_eq!(
            sniff(b"RIFF\x24\0\0\0WEBPVP8L"),
            Sniffed::Image(ImageType::Webp)
        );
    }

    #[test]
    fn a_short_file_inside_a_signature_is_partial() {
        assert_eq!(
            sniff(b"\x89PNG\r"),
            Sniffed::PartialSignature(ImageType::Png)
        );
        assert_eq!(
            sniff(b"\xFF\xD8"),
            Sniffed::PartialSignature(ImageType::Jpeg)
        );
        assert_eq!(
            sniff(b"RIFF\0\0"),
            Sniffed::PartialSignature(ImageType::Webp)
        );
        assert_eq!(sniff(b"hello"), Sniffed::Other { mime: None });
        assert_eq!(sniff(b""), Sniffed::Other { mime: None });
    }

    #[test]
    fn a_signature_that_starts_right_and_ends_wrong_is_damaged() {
        // Line endings rewritten by a text-mode transfer.
        assert_eq!(
            sniff(b"\x89PNG\n\x1a\n\0\0\0\x0dIHDR"),
            Sniffed::DamagedSignature(ImageType::Png)
        );
    }

    #[test]
    fn other_formats_are_named_by_infer() {
        assert_eq!(
            sniff(b"%PDF-1.7\n%\xE2\xE3").mime(),
            Some("application/pdf")
        );
        assert_eq!(sniff(b"GIF89a\x40\0\x40\0\0\0").mime(), Some("image/gif"));
        assert_eq!(
            sniff(b"PK\x03\x04\x14\0\0\0\0\0").mime(),
            Some("application/zip")
        );
    }
}
