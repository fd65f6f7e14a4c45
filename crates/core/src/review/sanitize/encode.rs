//! Re-encoding: the source's format, at the source's quality (lossy formats), with the kept
//! colour profile, and never larger than the policy's `max_bytes`.
//!
//! JPEG goes through libjpeg-turbo (the `mozjpeg` crate's build, at libjpeg-turbo's own
//! settings; SIMD where it was built with it), lossy WebP through libwebp, PNG and lossless
//! WebP through `image`. A lossy result over the size limit is encoded again at lower
//! qualities, down to [`MIN_QUALITY`]; a lossless one, or a lossy one still too large there,
//! is [`ReasonCode::ReencodedTooLarge`].

use std::io::Cursor;
use std::panic::AssertUnwindSafe;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::codecs::webp::WebPEncoder;
use image::{ColorType as ColorType8, DynamicImage, ImageEncoder};

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
    let (color_space, raw) = match pixels {
        DynamicImage::ImageLuma8(i) => (mozjpeg::ColorSpace::JCS_GRAYSCALE, i.as_raw()),
        DynamicImage::ImageRgb8(i) => (mozjpeg::ColorSpace::JCS_RGB, i.as_raw()),
        _ => return Err(ReasonCode::Corrupt),
    };
    let (width, height) = (pixels.width(), pixels.height());
    let sampling = plan
        .jpeg_sampling
        .filter(|&sampling| encodable_sampling(sampling))
        .unwrap_or((2, 2));
    // libjpeg reports an error by unwinding out of the call (the crate's error manager uses
    // `resume_unwind`, so no panic message is printed, and its C is built with -fexceptions,
    // so the unwind may cross it); on pixels just decoded that happens only when memory runs
    // out or a side is over libjpeg's 65,500, so it is called too large.
    let encoded = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut compress = mozjpeg::Compress::new(color_space);
        // libjpeg-turbo's own behaviour: baseline, the standard Huffman tables and
        // quantisation tables scaled by the IJG quality, accurate integer DCT, and chroma
        // downsampled by averaging. (mozjpeg's own defaults, trellis quantisation and
        // progressive scans, are several times slower.)
        compress.set_fastest_defaults();
        compress.set_size(width as usize, height as usize);
        compress.set_quality(f32::from(quality));
        if color_space == mozjpeg::ColorSpace::JCS_RGB {
            compress.set_chroma_sampling_pixel_sizes(sampling, sampling);
        }
        let mut started = compress.start_compress(Vec::with_capacity(raw.len() / 8))?;
        if let Some(profile) = &plan.profile {
            for chunk in icc_markers(profile) {
                started.write_marker(mozjpeg::Marker::APP(2), &chunk);
            }
        }
        started.write_scanlines(raw)?;
        started.finish()
    }));
    match encoded {
        Ok(Ok(bytes)) => Ok(bytes),
        _ => Err(ReasonCode::TooLargeDimensions),
    }
}

/// A colour profile as JPEG carries it: `APP2` segments of `ICC_PROFILE\0`, a sequence number
/// counted from 1, the count, and up to 65,519 bytes of the profile each. (Not the `mozjpeg`
/// crate's `write_icc_profile`: in 0.10.13 it numbers the segments from 0, and decoders
/// ignore a profile numbered so; the colour tests caught it.)
fn icc_markers(profile: &[u8]) -> Vec<Vec<u8>> {
    const HEADER: &[u8] = b"ICC_PROFILE\0";
    const MOST_PER_SEGMENT: usize = 65_533 - HEADER.len() - 2;
    let chunks: Vec<&[u8]> = profile.chunks(MOST_PER_SEGMENT).collect();
    // The profile is capped far below 255 segments (`icc::MAX_PROFILE_BYTES`).
    let count = u8::try_from(chunks.len()).unwrap_or(u8::MAX);
    chunks
        .iter()
        .zip(1..=count)
        .map(|(chunk, number)| [HEADER, &[number, count], chunk].concat())
        .collect()
}

/// Luminance sampling factors libjpeg can write with one chroma block per MCU: 1, 2 or 4 each
/// way, at most 8 luminance blocks (a baseline MCU holds at most 10 blocks in all).
fn encodable_sampling((h, v): (u8, u8)) -> bool {
    matches!(h, 1 | 2 | 4) && matches!(v, 1 | 2 | 4) && h * v <= 8
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_profile_is_split_into_segments_numbered_from_one() {
        let profile: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
        let markers = icc_markers(&profile);
        assert_eq!(markers.len(), 3);
        let mut joined = Vec::new();
        for (marker, number) in markers.iter().zip(1u8..) {
            assert!(
                marker.len() <= 65_533,
                "a segment holds at most 65,533 bytes"
            );
            assert_eq!(&marker[..12], b"ICC_PROFILE\0");
            assert_eq!(marker[12..14], [number, 3]);
            joined.extend_from_slice(&marker[14..]);
        }
        assert!(joined == profile);
        assert_eq!(
            icc_markers(b"tiny"),
            vec![b"ICC_PROFILE\0\x01\x01tiny".to_vec()]
        );
    }

    #[test]
    fn an_error_inside_libjpeg_is_a_reason_not_an_unwind() {
        // libjpeg refuses sides over 65,500 by unwinding out of the call; this one is 64 KiB.
        let too_wide = DynamicImage::ImageLuma8(image::GrayImage::new(65_501, 1));
        let plan = Plan {
            lossy: true,
            max_bytes: u64::MAX,
            ..Plan::default()
        };
        assert_eq!(
            jpeg(&too_wide, 80, &plan).err(),
            Some(ReasonCode::TooLargeDimensions)
        );
        // The same call on sides it takes still works afterwards.
        let fine = DynamicImage::ImageLuma8(image::GrayImage::new(64, 1));
        assert!(jpeg(&fine, 80, &plan).is_ok_and(|bytes| bytes.starts_with(&[0xFF, 0xD8])));
    }

    #[test]
    fn only_sampling_libjpeg_can_write_is_kept() {
        for kept in [(1, 1), (2, 1), (1, 2), (2, 2), (4, 1), (4, 2), (2, 4)] {
            assert!(encodable_sampling(kept), "{kept:?}");
        }
        for refused in [(0, 1), (3, 1), (4, 4), (8, 1), (1, 0)] {
            assert!(!encodable_sampling(refused), "{refused:?}");
        }
    }
}
