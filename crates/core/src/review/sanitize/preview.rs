//! The moderator's preview: the published pixels scaled to fit [`PREVIEW_MAX_SIDE`], as a
//! small lossless WebP.
//!
//! `fast_image_resize` scales 8-bit images with SIMD straight from the decoded buffer (no
//! copy of the full-size image); 16-bit images, rare on the web, take `image`'s slower path.

use std::io::Cursor;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, GrayAlphaImage, GrayImage, RgbImage, RgbaImage};

use crate::reason::ReasonCode;

/// The longest side of a moderator's preview.
pub const PREVIEW_MAX_SIDE: u32 = 256;

pub fn encode_preview(image: &DynamicImage) -> Result<Vec<u8>, ReasonCode> {
    let thumbnail = match scale_8bit(image) {
        Some(scaled) => scaled,
        None => {
            let scaled = image.thumbnail(PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE);
            DynamicImage::ImageRgba8(scaled.to_rgba8())
        }
    };
    let mut out = Cursor::new(Vec::new());
    thumbnail
        .write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut out))
        .map_err(|_| ReasonCode::TooLargeDimensions)?;
    Ok(out.into_inner())
}

/// The preview's sides: the image scaled to fit the box, as `DynamicImage::thumbnail` does.
fn preview_sides(width: u32, height: u32) -> (u32, u32) {
    let ratio = f64::min(
        f64::from(PREVIEW_MAX_SIDE) / f64::from(width),
        f64::from(PREVIEW_MAX_SIDE) / f64::from(height),
    );
    let side = |s: u32| ((f64::from(s) * ratio).round() as u32).clamp(1, PREVIEW_MAX_SIDE);
    (side(width), side(height))
}

fn scale_8bit(image: &DynamicImage) -> Option<DynamicImage> {
    let (pixel_type, bytes) = match image {
        DynamicImage::ImageLuma8(i) => (PixelType::U8, i.as_raw()),
        DynamicImage::ImageLumaA8(i) => (PixelType::U8x2, i.as_raw()),
        DynamicImage::ImageRgb8(i) => (PixelType::U8x3, i.as_raw()),
        DynamicImage::ImageRgba8(i) => (PixelType::U8x4, i.as_raw()),
        _ => return None,
    };
    let (width, height) = (image.width(), image.height());
    let source = ImageRef::new(width, height, bytes, pixel_type).ok()?;
    let (to_width, to_height) = preview_sides(width, height);
    let mut scaled = Image::new(to_width, to_height, pixel_type);
    // Bilinear over the whole source footprint: anti-aliased, and a fraction of Lanczos' cost.
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new().resize(&source, &mut scaled, &options).ok()?;
    let raw = scaled.into_vec();
    Some(match pixel_type {
        PixelType::U8 => DynamicImage::ImageLuma8(GrayImage::from_raw(to_width, to_height, raw)?),
        PixelType::U8x2 => {
            DynamicImage::ImageLumaA8(GrayAlphaImage::from_raw(to_width, to_height, raw)?)
        }
        PixelType::U8x3 => DynamicImage::ImageRgb8(RgbImage::from_raw(to_width, to_height, raw)?),
        _ => DynamicImage::ImageRgba8(RgbaImage::from_raw(to_width, to_height, raw)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_fit_the_box_and_never_vanish() {
        assert_eq!(preview_sides(640, 480), (256, 192));
        assert_eq!(preview_sides(480, 640), (192, 256));
        assert_eq!(preview_sides(10_000, 10), (256, 1));
        assert_eq!(preview_sides(100, 100), (256, 256));
    }
}
