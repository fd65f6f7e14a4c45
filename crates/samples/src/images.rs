//! Valid images, encoded for real: every one here decodes, except the lossy WebP, which is a
//! correct VP8 key-frame header with no picture behind it (no pure-Rust crate encodes VP8).

use std::io::Cursor;

use image::{ImageEncoder, ImageFormat, RgbImage};
use jpeg_encoder::{ColorType as JpegColor, Encoder as JpegEncoder};

use crate::exif;

/// How a generated PNG stores its pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PngKind {
    Rgb8,
    Rgba8,
    /// 16 bits per channel.
    Rgb16,
    /// Indexed colour with a 16-entry palette.
    Palette,
    Gray8,
}

/// How a generated JPEG is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JpegKind {
    Baseline,
    Progressive,
    /// Four channels, with the Adobe APP14 segment print workflows write.
    Cmyk,
    Gray,
}

/// A smooth pattern with some detail, so that encoders have something to compress.
fn pixel(x: u32, y: u32, channel: u32) -> u8 {
    let v = (x * (3 + channel) + y * (5 + 2 * channel) + (x ^ y)) & 0xFF;
    v as u8
}

fn pixels(width: u32, height: u32, channels: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity((width * height * channels) as usize);
    for y in 0..height {
        for x in 0..width {
            out.extend((0..channels).map(|c| pixel(x, y, c)));
        }
    }
    out
}

/// An 8-bit RGB PNG.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    png_of(PngKind::Rgb8, width, height)
}

pub fn png_of(kind: PngKind, width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    let data = match kind {
        PngKind::Rgb8 => {
            encoder.set_color(png::ColorType::Rgb);
            pixels(width, height, 3)
        }
        PngKind::Rgba8 => {
            encoder.set_color(png::ColorType::Rgba);
            pixels(width, height, 4)
        }
        PngKind::Rgb16 => {
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Sixteen);
            // Big-endian samples; the low byte varies too, so the 16 bits are really used.
            pixels(width, height, 6)
        }
        PngKind::Palette => {
            encoder.set_color(png::ColorType::Indexed);
            let palette: Vec<u8> = (0..16u8)
                .flat_map(|i| [i * 16, 255 - i * 16, i * 8])
                .collect();
            encoder.set_palette(palette);
            pixels(width, height, 1).iter().map(|v| v % 16).collect()
        }
        PngKind::Gray8 => {
            encoder.set_color(png::ColorType::Grayscale);
            pixels(width, height, 1)
        }
    };
    let mut writer = encoder.write_header().expect("a valid PNG header");
    writer
        .write_image_data(&data)
        .expect("pixels match the header");
    writer.finish().expect("PNG written to memory");
    out
}

/// A JPEG of film grain (pseudo-random pixels, which compress poorly) at quality 95: large
/// in bytes for its size in pixels (about 2.4 bytes a pixel), as a photo straight off a camera
/// is. The same arguments always give the same bytes.
pub fn grainy_jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let pixels = image::RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let [r, g, b, ..] = state.to_le_bytes();
        image::Rgb([r, g, b])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
        .encode_image(&pixels)
        .expect("encoding to memory cannot fail");
    out
}

/// A baseline JPEG.
pub fn jpeg(width: u16, height: u16) -> Vec<u8> {
    jpeg_of(JpegKind::Baseline, width, height, Vec::new())
}

/// A JPEG of this kind with extra APPn segments (number, data) after the JFIF header.
pub fn jpeg_of(
    kind: JpegKind,
    width: u16,
    height: u16,
    app_segments: Vec<(u8, Vec<u8>)>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new(&mut out, 85);
    for (number, data) in app_segments {
        encoder
            .add_app_segment(number, data)
            .expect("APP segment number 1-15 and under 64 KiB");
    }
    let (w, h) = (u32::from(width), u32::from(height));
    let (data, color) = match kind {
        JpegKind::Baseline => (pixels(w, h, 3), JpegColor::Rgb),
        JpegKind::Progressive => {
            encoder.set_progressive(true);
            (pixels(w, h, 3), JpegColor::Rgb)
        }
        JpegKind::Cmyk => (pixels(w, h, 4), JpegColor::Cmyk),
        JpegKind::Gray => (pixels(w, h, 1), JpegColor::Luma),
    };
    encoder
        .encode(&data, width, height, color)
        .expect("JPEG encoded to memory");
    out
}

/// `Exif\0\0` and the TIFF structure: the data of an EXIF APP1 segment.
pub fn exif_app1(tiff: &[u8]) -> (u8, Vec<u8>) {
    let mut data = b"Exif\0\0".to_vec();
    data.extend(tiff);
    (1, data)
}

/// A JPEG that says where it was taken: EXIF with a GPS block (make, model, latitude,
/// longitude in degrees; negative is south or west). What sanitizing must strip.
pub fn jpeg_with_gps(width: u16, height: u16, latitude: f64, longitude: f64) -> Vec<u8> {
    let app1 = exif_app1(&exif::with_gps(latitude, longitude));
    jpeg_of(JpegKind::Baseline, width, height, vec![app1])
}

/// A JPEG whose EXIF APP1 segment holds `app1_len` bytes (`Exif\0\0` included), all before
/// the frame header. 61,440 (60 KiB) still leaves the frame header inside a 64 KiB read.
pub fn jpeg_with_large_exif(width: u16, height: u16, app1_len: usize) -> Vec<u8> {
    let app1 = exif_app1(&exif::of_len(app1_len - 6));
    jpeg_of(JpegKind::Baseline, width, height, vec![app1])
}

/// A JPEG whose EXIF carries a thumbnail, itself a JPEG whose frame header claims
/// `thumbnail_claims`. A scanner that looks for the first `FF C0` finds the thumbnail's.
pub fn jpeg_with_lying_thumbnail(width: u16, height: u16, thumbnail_claims: (u16, u16)) -> Vec<u8> {
    let mut thumbnail = jpeg(16, 16);
    crate::raw::set_jpeg_frame_size(&mut thumbnail, thumbnail_claims.0, thumbnail_claims.1);
    let app1 = exif_app1(&exif::with_thumbnail(thumbnail));
    jpeg_of(JpegKind::Baseline, width, height, vec![app1])
}

fn rgb(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([pixel(x, y, 0), pixel(x, y, 1), pixel(x, y, 2)])
    })
}

/// A lossless WebP (a VP8L chunk in the simple container).
pub fn webp_lossless(width: u32, height: u32) -> Vec<u8> {
    encode(ImageFormat::WebP, width, height)
}

/// An extended WebP (VP8X, then VP8L and EXIF chunks): what the gate sees from cameras and
/// editors that keep metadata.
pub fn webp_extended(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = image::codecs::webp::WebPEncoder::new_lossless(&mut out);
    encoder
        .set_exif_metadata(exif::with_gps(-33.856_78, 151.215_3))
        .expect("the WebP encoder keeps EXIF");
    let image = rgb(width, height);
    encoder
        .write_image(
            image.as_raw(),
            width,
            height,
            image::ExtendedColorType::Rgb8,
        )
        .expect("WebP encoded to memory");
    out
}

/// Header only: a lossy WebP (VP8 chunk) with a correct key-frame header for this size and
/// zero bytes where the compressed picture would be. The gate measures it; decoders refuse it.
pub fn webp_lossy_header(width: u16, height: u16) -> Vec<u8> {
    assert!(
        width < 1 << 14 && height < 1 << 14,
        "VP8 sides have 14 bits"
    );
    let first_partition = 22u32;
    // Key frame (bit 0 clear), version 0, shown (bit 4), then the first partition's size.
    let tag = (first_partition << 5) | (1 << 4);
    let mut frame = tag.to_le_bytes()[..3].to_vec();
    frame.extend([0x9D, 0x01, 0x2A]);
    frame.extend(width.to_le_bytes());
    frame.extend(height.to_le_bytes());
    frame.resize(frame.len() + first_partition as usize, 0);
    let chunk_len = u32::try_from(frame.len()).expect("small");
    let mut out = b"RIFF".to_vec();
    out.extend((4 + 8 + chunk_len).to_le_bytes());
    out.extend(b"WEBP");
    out.extend(b"VP8 ");
    out.extend(chunk_len.to_le_bytes());
    out.extend(frame);
    out
}

/// An image encoded by `image` in `format`: lossless WebP, or a format Vetted refuses (GIF,
/// BMP, TIFF).
pub fn encode(format: ImageFormat, width: u32, height: u32) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(rgb(width, height))
        .write_to(&mut out, format)
        .expect("image encodes this format to memory");
    out.into_inner()
}
