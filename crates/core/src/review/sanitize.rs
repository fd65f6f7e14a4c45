//! The deep check: decode the whole image under limits and re-encode it from pixels.
//!
//! Nothing but pixels survives a re-encode: EXIF (GPS included), comments, ICC profiles,
//! appended payloads (a ZIP or HTML after PNG's IEND, the trick behind polyglots) and any
//! format quirk an exploit might ride on. The EXIF orientation is applied first, so the
//! published image looks as the owner saw it.
//!
//! The gate runs again on the full bytes before decoding: the object read here may not be the
//! one intake inspected (a second write to the same key), and the policy must hold for what
//! is published. Decoding is bounded by `image::Limits`: the policy's maximum side, and an
//! allocation cap, so a pixel bomb fails with a reason instead of exhausting memory.

use std::io::Cursor;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

use crate::image_type::ImageType;
use crate::inspect::{Verdict, inspect};
use crate::policy::Policy;
use crate::reason::ReasonCode;

/// The longest side of a moderator's preview.
pub const PREVIEW_MAX_SIDE: u32 = 256;

/// JPEG quality for re-encoded photos: visually lossless for moderation and publishing.
const JPEG_QUALITY: u8 = 88;

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
    let (header_width, header_height) = match inspect(bytes, len(bytes), expected.mime(), policy) {
        Verdict::Accept { width, height, .. } => (width, height),
        Verdict::Reject { reason } => return Err(reason),
        // The whole file is here, so more bytes cannot exist: the header is out of reach.
        Verdict::NeedMore { .. } => return Err(ReasonCode::HeaderTooDeep),
    };

    let image = decode(
        bytes,
        expected,
        policy,
        max_decode_alloc,
        (header_width, header_height),
    )?;
    let (width, height) = (image.width(), image.height());
    let preview = encode_preview(&image)?;
    Ok(Sanitized {
        image_type: expected,
        bytes: encode(image, expected)?,
        width,
        height,
        preview,
    })
}

fn len(bytes: &[u8]) -> u64 {
    u64::try_from(bytes.len()).unwrap_or(u64::MAX)
}

fn decode(
    bytes: &[u8],
    expected: ImageType,
    policy: &Policy,
    max_decode_alloc: u64,
    header_sides: (u32, u32),
) -> Result<DynamicImage, ReasonCode> {
    let mut reader = ImageReader::new(Cursor::new(bytes));
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
    let mut image = DynamicImage::from_decoder(decoder).map_err(reason_for)?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    Ok(image)
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

/// Re-encodes in the same format at 8 bits a channel, keeping grey as grey and alpha where
/// the format has it (JPEG has none). Converts only when the pixels are not already in the
/// target layout, so a large image is not copied for nothing.
fn encode(image: DynamicImage, image_type: ImageType) -> Result<Vec<u8>, ReasonCode> {
    let color = image.color();
    let keep_alpha = color.has_alpha() && image_type != ImageType::Jpeg;
    let pixels = match (color.has_color(), keep_alpha) {
        (false, false) => DynamicImage::ImageLuma8(image.into_luma8()),
        (false, true) if image_type == ImageType::Png => {
            DynamicImage::ImageLumaA8(image.into_luma_alpha8())
        }
        (_, true) => DynamicImage::ImageRgba8(image.into_rgba8()),
        (true, false) => DynamicImage::ImageRgb8(image.into_rgb8()),
    };
    let mut out = Cursor::new(Vec::new());
    let written = match image_type {
        ImageType::Jpeg => pixels.write_with_encoder(
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY),
        ),
        // image's PNG default is its fastest setting, which barely compresses: a 53 KiB logo
        // came back as 1.9 MB. Published images are written once and served often.
        ImageType::Png => pixels.write_with_encoder(PngEncoder::new_with_quality(
            &mut out,
            CompressionType::Default,
            FilterType::Adaptive,
        )),
        ImageType::Webp => {
            pixels.write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut out))
        }
    };
    // Encoding pixels we just decoded fails only if memory runs out; call that too large.
    written.map_err(|_| ReasonCode::TooLargeDimensions)?;
    Ok(out.into_inner())
}

fn encode_preview(image: &DynamicImage) -> Result<Vec<u8>, ReasonCode> {
    let thumbnail = image.thumbnail(PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE);
    let pixels = DynamicImage::ImageRgba8(thumbnail.to_rgba8());
    let mut out = Cursor::new(Vec::new());
    pixels
        .write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut out))
        .map_err(|_| ReasonCode::TooLargeDimensions)?;
    Ok(out.into_inner())
}
