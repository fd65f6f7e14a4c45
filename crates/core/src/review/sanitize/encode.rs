//! Re-encoding: the source's format, at the source's quality (lossy formats), with the kept
//! colour profile, and never larger than the policy's `max_bytes`.
//!
//! JPEG goes through `jpeg-encoder` (AVX2 where the CPU has it, its portable path elsewhere),
//! lossy WebP through libwebp, PNG and lossless WebP through `image`. A lossy result over the
//! size limit is encoded again at lower qualities, down to [`MIN_QUALITY`]; a lossless one,
//! or a lossy one still too large there, is [`ReasonCode::ReencodedTooLarge`].

use std::io::Cursor;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::codecs::webp::WebPEncoder;
use image::{ColorType as ColorType8, DynamicImage, ImageEncoder};
use jpeg_encoder::{ChromaSubsamplingMethod, ColorType, SamplingFactor};

use super::jpeg_halves;
use crate::image_type::ImageType;
use crate::reason::ReasonCode;

/// The highest quality a lossy copy is published at: above it files grow fast for detail
/// nobody sees.
pub const MAX_QUALITY: u8 = 90;

/// The lowest quality tried to bring a copy under the size limit.
pub const MIN_QUALITY: u8 = 40;

/// How much lower each further attempt goes.
const QUALITY_STEP: u8 = 10;

/// For a source whose quality cannot be read (it always can for JPEG and libwebp files).
const FALLBACK_QUALITY: u8 = 85;

/// What to write.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// JPEG, or a lossy WebP: published lossy.
    pub lossy: bool,
    /// A lossy source's estimated quality.
    pub source_quality: Option<u8>,
    /// A JPEG source's luminance sampling factors, kept so 4:2:0 stays 4:2:0.
    pub jpeg_sampling: Option<(u8, u8)>,
    /// The rewritten colour profile to embed.
    pub profile: Option<Vec<u8>>,
    pub max_bytes: u64,
}

/// The published bytes, and the quality they were written at (lossy formats).
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub quality: Option<u8>,
}

pub fn encode(
    image: DynamicImage,
    image_type: ImageType,
    plan: &Plan,
) -> Result<Encoded, ReasonCode> {
    encode_borrowed(&layout(image, image_type, plan.lossy), image_type, plan)
}

/// Whether the decoded pixels are already in the layout the encoder takes (a decoded JPEG,
/// grey or RGB, always is), so the encoder can read them while the preview does too.
pub fn needs_no_conversion(image: &DynamicImage, image_type: ImageType, lossy: bool) -> bool {
    image.color() == target_color(image, image_type, lossy)
}

/// [`encode`] of pixels already in the encoder's layout.
pub fn encode_borrowed(
    pixels: &DynamicImage,
    image_type: ImageType,
    plan: &Plan,
) -> Result<Encoded, ReasonCode> {
    if !plan.lossy {
        let bytes = lossless(pixels, image_type, plan.profile.as_deref())?;
        return within(bytes, plan.max_bytes, None).ok_or(ReasonCode::ReencodedTooLarge);
    }
    let start = plan
        .source_quality
        .unwrap_or(FALLBACK_QUALITY)
        .clamp(1, MAX_QUALITY);
    let mut quality = start;
    loop {
        let bytes = match image_type {
            ImageType::Jpeg => jpeg(pixels, quality, plan)?,
            _ => webp_lossy(pixels, quality, plan.profile.as_deref())?,
        };
        if let Some(encoded) = within(bytes, plan.max_bytes, Some(quality)) {
            if quality != start {
                tracing::info!(
                    from = start,
                    to = quality,
                    "quality lowered to fit the size limit"
                );
            }
            return Ok(encoded);
        }
        if quality <= MIN_QUALITY {
            return Err(ReasonCode::ReencodedTooLarge);
        }
        quality = quality.saturating_sub(QUALITY_STEP).max(MIN_QUALITY);
    }
}

fn within(bytes: Vec<u8>, max_bytes: u64, quality: Option<u8>) -> Option<Encoded> {
    (u64::try_from(bytes.len()).unwrap_or(u64::MAX) <= max_bytes)
        .then_some(Encoded { bytes, quality })
}

/// 8 bits a channel, grey kept grey and alpha kept where the output has it (JPEG has none;
/// libwebp takes RGB or RGBA only).
fn target_color(image: &DynamicImage, image_type: ImageType, lossy: bool) -> ColorType8 {
    let color = image.color();
    let keep_alpha = color.has_alpha() && image_type != ImageType::Jpeg;
    // libwebp's lossy encoder takes no grey.
    let grey_encoder = !(image_type == ImageType::Webp && lossy);
    let keep_grey = !color.has_color() && grey_encoder;
    match (keep_grey, keep_alpha) {
        (true, false) => ColorType8::L8,
        (true, true) if image_type == ImageType::Png => ColorType8::La8,
        (_, true) => ColorType8::Rgba8,
        (_, false) => ColorType8::Rgb8,
    }
}

/// Converts only when the pixels are not already in the encoder's layout, so a decoded JPEG
/// (grey or RGB) is encoded from the decoder's own buffer.
fn layout(image: DynamicImage, image_type: ImageType, lossy: bool) -> DynamicImage {
    let target = target_color(&image, image_type, lossy);
    if image.color() == target {
        return image;
    }
    match target {
        ColorType8::L8 => DynamicImage::ImageLuma8(image.into_luma8()),
        ColorType8::La8 => DynamicImage::ImageLumaA8(image.into_luma_alpha8()),
        ColorType8::Rgba8 => DynamicImage::ImageRgba8(image.into_rgba8()),
        _ => DynamicImage::ImageRgb8(image.into_rgb8()),
    }
}

fn jpeg(pixels: &DynamicImage, quality: u8, plan: &Plan) -> Result<Vec<u8>, ReasonCode> {
    let (color, raw, bytes_per_pixel) = match pixels {
        DynamicImage::ImageLuma8(i) => (ColorType::Luma, i.as_raw(), 1),
        DynamicImage::ImageRgb8(i) => (ColorType::Rgb, i.as_raw(), 3),
        _ => return Err(ReasonCode::Corrupt),
    };
    let side = |s: u32| u16::try_from(s).map_err(|_| ReasonCode::TooLargeDimensions);
    let sides = (side(pixels.width())?, side(pixels.height())?);
    let (h, v) = plan
        .jpeg_sampling
        .filter(|&(h, v)| SamplingFactor::from_factors(h, v).is_some())
        .unwrap_or((2, 2));
    let sampling = SamplingFactor::from_factors(h, v).unwrap_or(SamplingFactor::F_2_2);
    let configure = |encoder: &mut jpeg_encoder::Encoder<&mut Vec<u8>>| {
        encoder.set_quality(quality);
        encoder.set_sampling_factor(sampling);
        // Averaged chroma, as libjpeg does: nearest-pixel chroma is faster but aliases edges.
        encoder.set_chroma_subsampling_method(ChromaSubsamplingMethod::Average);
        // Not `set_optimized_huffman_tables`: in jpeg-encoder 0.7.1 its output decodes to
        // garbage in zune-jpeg (image's decoder), which the colour tests caught.
        if let Some(profile) = &plan.profile {
            encoder.add_icc_profile(profile)?;
        }
        Ok(())
    };
    let pixel_count = u64::from(sides.0) * u64::from(sides.1);
    // Encoding pixels just decoded fails only if memory runs out; call that too large.
    let encoded = if pixel_count >= jpeg_halves::MIN_PIXELS {
        // The MCU: 8 × 8 pixels of grey, or the luminance's sampling factors × 8 of colour.
        let mcu = match color {
            ColorType::Luma => (8, 8),
            _ => (8 * u16::from(h), 8 * u16::from(v)),
        };
        jpeg_halves::encode(raw, sides, color, bytes_per_pixel, mcu, &configure)
    } else {
        let mut out = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
        configure(&mut encoder)
            .and_then(|()| encoder.encode(raw, sides.0, sides.1, color))
            .map(|()| out)
    };
    encoded.map_err(|_| ReasonCode::TooLargeDimensions)
}

fn webp_lossy(
    pixels: &DynamicImage,
    quality: u8,
    profile: Option<&[u8]>,
) -> Result<Vec<u8>, ReasonCode> {
    let (width, height) = (pixels.width(), pixels.height());
    let encoder = match pixels {
        DynamicImage::ImageRgb8(i) => webp::Encoder::from_rgb(i.as_raw(), width, height),
        DynamicImage::ImageRgba8(i) => webp::Encoder::from_rgba(i.as_raw(), width, height),
        _ => return Err(ReasonCode::Corrupt),
    };
    let mut config = webp::WebPConfig::new().map_err(|()| ReasonCode::Corrupt)?;
    config.lossless = 0;
    config.quality = f32::from(quality);
    config.alpha_compression = 1;
    // libwebp fails on sides above 16383, and if memory runs out.
    let memory = encoder
        .encode_advanced(&config)
        .map_err(|_| ReasonCode::TooLargeDimensions)?;
    let bytes = memory.to_vec();
    Ok(match profile {
        Some(profile) => {
            webp_with_profile(&bytes, profile, width, height).ok_or(ReasonCode::Corrupt)?
        }
        None => bytes,
    })
}

/// Rebuilds a WebP as the extended format with an `ICCP` chunk: `VP8X`, `ICCP`, then the
/// file's own chunks (`ALPH`, `VP8 `) as libwebp wrote them.
fn webp_with_profile(file: &[u8], profile: &[u8], width: u32, height: u32) -> Option<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut at = 12;
    while at < file.len() {
        let header = file.get(at..at + 8)?;
        let size = u32::from_le_bytes(header[4..8].try_into().ok()?) as usize;
        let padded = size + (size & 1);
        let chunk = file.get(at..at + 8 + padded)?;
        if &header[..4] != b"VP8X" {
            chunks.push(chunk);
        }
        at += 8 + padded;
    }
    let has_alpha = chunks.iter().any(|c| &c[..4] == b"ALPH");
    let mut out = Vec::with_capacity(file.len() + profile.len() + 32);
    out.extend_from_slice(b"RIFF\0\0\0\0WEBPVP8X");
    out.extend_from_slice(&10u32.to_le_bytes());
    out.push(0x20 | if has_alpha { 0x10 } else { 0 });
    out.extend_from_slice(&[0; 3]);
    out.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    out.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    out.extend_from_slice(b"ICCP");
    out.extend_from_slice(&u32::try_from(profile.len()).ok()?.to_le_bytes());
    out.extend_from_slice(profile);
    if profile.len() % 2 == 1 {
        out.push(0);
    }
    for chunk in chunks {
        out.extend_from_slice(chunk);
    }
    let riff_size = u32::try_from(out.len() - 8).ok()?;
    out[4..8].copy_from_slice(&riff_size.to_le_bytes());
    Some(out)
}

fn lossless(
    pixels: &DynamicImage,
    image_type: ImageType,
    profile: Option<&[u8]>,
) -> Result<Vec<u8>, ReasonCode> {
    let mut out = Cursor::new(Vec::new());
    let written = match image_type {
        // image's PNG default is its fastest setting, which barely compresses: a 53 KiB logo
        // came back as 1.9 MB. Published images are written once and served often.
        ImageType::Png => {
            let mut encoder = PngEncoder::new_with_quality(
                &mut out,
                CompressionType::Default,
                FilterType::Adaptive,
            );
            if let Some(profile) = profile {
                // PNG takes any profile; the error is for formats without a place for one.
                let _ = encoder.set_icc_profile(profile.to_vec());
            }
            pixels.write_with_encoder(encoder)
        }
        _ => {
            let mut encoder = WebPEncoder::new_lossless(&mut out);
            if let Some(profile) = profile {
                let _ = encoder.set_icc_profile(profile.to_vec());
            }
            pixels.write_with_encoder(encoder)
        }
    };
    // Encoding pixels just decoded fails only if memory runs out; call that too large.
    written.map_err(|_| ReasonCode::TooLargeDimensions)?;
    Ok(out.into_inner())
}
