//! The deep check: decode the whole image under limits and re-encode it from pixels.
//!
//! Nothing but pixels and their colour profile survives a re-encode: EXIF (GPS included),
//! comments, appended payloads (a ZIP or HTML after PNG's IEND, the trick behind polyglots)
//! and any format quirk an exploit might ride on are gone. The EXIF orientation is applied
//! first, so the published image looks as the owner saw it. The colour profile is parsed and
//! written again, never copied (`icc`).
//!
//! The copy is published in the source's format: a JPEG or a lossy WebP at the quality the
//! source was made with (`facts`), capped at 90, so a well-compressed photo does not grow;
//! PNG and lossless WebP losslessly. It is never larger than the policy's `max_bytes`
//! (`encode`): a lossy copy over it is tried at lower qualities, and one that cannot fit is
//! refused as `reencoded_too_large`, which the review step records as `FAILED`.
//!
//! The gate runs again on the full bytes before decoding: the object read here may not be the
//! one intake inspected (a second write to the same key), and the policy must hold for what
//! is published. Decoding is bounded by `image::Limits`: the policy's maximum side, and an
//! allocation cap, so a pixel bomb fails with a reason instead of exhausting memory; a PNG's
//! profile is inflated under its own, much smaller cap.

pub mod budget;
mod encode;
pub mod facts;
pub mod icc;
mod preview;

use std::io::{BufRead, Cursor, Seek};

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

use crate::image_type::ImageType;
use crate::inspect::{Verdict, inspect};
use crate::policy::Policy;
use crate::reason::ReasonCode;

pub use encode::{MAX_QUALITY, MIN_QUALITY};
pub use icc::{MAX_PROFILE_BYTES, ProfileFate};
pub use preview::PREVIEW_MAX_SIDE;

/// The default ceiling on the decoded image's size in memory: a 40 MP image at 8 bytes a pixel
/// (16-bit RGBA) is 320 MiB, so this admits every image the default policy allows and nothing
/// much larger. Re-encoding adds at most one 8-bit copy (4 bytes a pixel) on top.
pub const DEFAULT_MAX_DECODE_ALLOC: u64 = 384 * 1024 * 1024;

/// A re-encoded image and its preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanitized {
    pub image_type: ImageType,
    pub bytes: Vec<u8>,
    /// Sides after orientation.
    pub width: u32,
    pub height: u32,
    /// The quality a lossy copy was written at; `None` for a lossless one.
    pub quality: Option<u8>,
    /// Whether the source's colour profile went into the copy.
    pub profile: ProfileFate,
    /// A small lossless WebP for the moderator console.
    pub preview: Vec<u8>,
}

/// Decodes `bytes` as `expected` under the policy and an allocation cap, and re-encodes it.
/// Any refusal is a stable reason code; this never panics on any input.
pub fn sanitize(
    bytes: &[u8],
    expected: ImageType,
    policy: &Policy,
    max_decode_alloc: u64,
) -> Result<Sanitized, ReasonCode> {
    let header_sides = match inspect(bytes, len(bytes), expected.mime(), policy) {
        Verdict::Accept { width, height, .. } => (width, height),
        Verdict::Reject { reason } => return Err(reason),
        // The whole file is here, so more bytes cannot exist: the header is out of reach.
        Verdict::NeedMore { .. } => return Err(ReasonCode::HeaderTooDeep),
    };
    let mut plan = encode::Plan {
        max_bytes: policy.max_bytes,
        ..Default::default()
    };
    match expected {
        ImageType::Jpeg => {
            let facts = facts::jpeg_facts(bytes);
            plan.lossy = true;
            plan.source_quality = facts.quality;
            plan.jpeg_sampling = facts.luma_sampling;
        }
        ImageType::Webp => {
            let facts = facts::webp_facts(bytes);
            plan.lossy = facts.lossy;
            plan.source_quality = facts.quality;
        }
        ImageType::Png => {}
    }
    let limits = DecodeLimits {
        policy,
        max_decode_alloc,
        header_sides,
    };
    let (image, found) = match expected {
        ImageType::Png => {
            let (reader, found) = icc::PngWithoutProfile::new(bytes);
            let (image, _) = decode(reader, expected, &limits)?;
            (image, found)
        }
        _ => decode(Cursor::new(bytes), expected, &limits)?,
    };
    let (profile, fate) = icc::rewrite(found, image.color().has_color());
    plan.profile = profile;
    let (width, height) = (image.width(), image.height());
    // The preview reads the pixels the copy is encoded from; on a second thread it costs no
    // time (a 12 MP photo: about 10 ms, beside 50 ms of encoding), only CPU it used anyway.
    // The encoder may need its own layout of the pixels (`encode::layout`), so it takes the
    // image only once the preview is done with it, except when no conversion is needed.
    let (preview, encoded) = if encode::needs_no_conversion(&image, expected, plan.lossy) {
        std::thread::scope(|scope| {
            // A thread the system will not give is no reason to fail: do it here instead.
            let preview = std::thread::Builder::new()
                .spawn_scoped(scope, || preview::encode_preview(&image))
                .ok();
            let encoded = encode::encode_borrowed(&image, expected, &plan);
            let preview = match preview {
                Some(thread) => thread.join().unwrap_or(Err(ReasonCode::TooLargeDimensions)),
                None => preview::encode_preview(&image),
            };
            (preview, encoded)
        })
    } else {
        let preview = preview::encode_preview(&image);
        (preview, encode::encode(image, expected, &plan))
    };
    let encoded = encoded?;
    let preview = preview?;
    Ok(Sanitized {
        image_type: expected,
        bytes: encoded.bytes,
        width,
        height,
        quality: encoded.quality,
        profile: fate,
        preview,
    })
}

fn len(bytes: &[u8]) -> u64 {
    u64::try_from(bytes.len()).unwrap_or(u64::MAX)
}

struct DecodeLimits<'a> {
    policy: &'a Policy,
    max_decode_alloc: u64,
    /// The sides the gate read from the header.
    header_sides: (u32, u32),
}

/// Decodes and orients the image; also returns the profile the decoder found (a PNG's is
/// read by `icc` instead, so its reader hides `iCCP` from the decoder).
fn decode<R: BufRead + Seek>(
    source: R,
    expected: ImageType,
    limits: &DecodeLimits<'_>,
) -> Result<(DynamicImage, icc::Found), ReasonCode> {
    let DecodeLimits {
        policy,
        max_decode_alloc,
        header_sides,
    } = *limits;
    let mut reader = ImageReader::new(source);
    reader.set_format(format_of(expected));
    let mut limits = Limits::default();
    limits.max_image_width = Some(policy.max_side);
    limits.max_image_height = Some(policy.max_side);
    limits.max_alloc = Some(max_decode_alloc);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(reason_for)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > policy.max_pixels {
        return Err(ReasonCode::TooLargeDimensions);
    }
    if (width, height) != header_sides {
        // The header the gate read promised one size and the image data another: crafted.
        return Err(ReasonCode::Corrupt);
    }
    // `Limits::max_alloc` is advisory, and some decoders (PNG among them) allocate their
    // output without consulting it; so the cap is checked here, before a byte is allocated.
    if decoder.total_bytes() > max_decode_alloc {
        return Err(ReasonCode::TooLargeDimensions);
    }
    // A missing or unreadable orientation is no reason to refuse an image: leave it upright.
    let orientation = decoder.orientation().ok();
    let found = match decoder.icc_profile() {
        Ok(Some(raw)) if raw.len() > icc::MAX_PROFILE_BYTES => icc::Found::Refused("oversized"),
        Ok(Some(raw)) => icc::Found::Bytes(raw),
        Ok(None) => icc::Found::None,
        Err(_) => icc::Found::Refused("unreadable"),
    };
    let mut image = DynamicImage::from_decoder(decoder).map_err(reason_for)?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    Ok((image, found))
}

fn format_of(image_type: ImageType) -> ImageFormat {
    match image_type {
        ImageType::Jpeg => ImageFormat::Jpeg,
        ImageType::Png => ImageFormat::Png,
        ImageType::Webp => ImageFormat::WebP,
    }
}

fn reason_for(error: ImageError) -> ReasonCode {
    match error {
        ImageError::Limits(_) => ReasonCode::TooLargeDimensions,
        _ => ReasonCode::Corrupt,
    }
}
