//! What the sanitizer publishes, on photo-like files: the same colours, the same kind of
//! compression, no growth, and never more than the policy's size; and a PNG whose colour
//! profile is a deflate bomb published without it.

// Test code, helpers included: a failed unwrap is a failed assertion.
#![allow(clippy::unwrap_used)]

use image::{ImageDecoder, ImageEncoder, ImageReader};
use moxcms::{ColorProfile, Layout, TransformOptions};
use vetted_core::policy::Policy;
use vetted_core::review::sanitize::facts::{jpeg_facts, webp_facts};
use vetted_core::review::sanitize::{
    DEFAULT_MAX_DECODE_ALLOC, MAX_QUALITY, ProfileFate, Sanitized, sanitize,
};
use vetted_core::{ImageType, ReasonCode};
use vetted_samples::photo;

fn clean(bytes: &[u8], image_type: ImageType) -> Sanitized {
    sanitize(
        bytes,
        image_type,
        &Policy::default(),
        DEFAULT_MAX_DECODE_ALLOC,
    )
    .unwrap_or_else(|reason| panic!("refused with {reason}"))
}

/// Decodes a file and converts its pixels to sRGB through its own embedded profile (none:
/// taken as sRGB already), as a colour-managed browser shows them.
fn as_shown(bytes: &[u8]) -> Vec<u8> {
    let mut decoder = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    let icc = decoder.icc_profile().unwrap();
    let pixels = image::DynamicImage::from_decoder(decoder)
        .unwrap()
        .into_rgb8()
        .into_raw();
    let Some(icc) = icc else { return pixels };
    let source = ColorProfile::new_from_slice(&icc).expect("the embedded profile parses");
    let transform = source
        .create_transform_8bit(
            Layout::Rgb,
            &ColorProfile::new_srgb(),
            Layout::Rgb,
            TransformOptions::default(),
        )
        .unwrap();
    let mut srgb = vec![0; pixels.len()];
    transform.transform(&pixels, &mut srgb).unwrap();
    srgb
}

fn mean_abs_difference(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let total: u64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    total as f64 / a.len() as f64
}

fn assert_same_colours(name: &str, profile: &ColorProfile) {
    let icc = profile.encode().unwrap();
    let original = photo::jpeg_with_profile(480, 320, 90, 7, Some(&icc));
    let out = clean(&original, ImageType::Jpeg);
    assert_eq!(out.profile, ProfileFate::Kept, "{name}");
    let (before, after) = (as_shown(&original), as_shown(&out.bytes));
    let kept = mean_abs_difference(&before, &after);
    // Only the re-encode's own loss is left: a fraction of a level on average.
    assert!(kept < 2.0, "{name}: colours moved by {kept:.2} on average");
    // The same pixels shown as sRGB (the profile lost, as before this was fixed) are far off:
    // the comparison above would have seen it.
    let lost = mean_abs_difference(&before, &as_shown(&strip_to_pixels(&out.bytes)));
    assert!(
        lost > 3.0 * kept && lost > 2.0,
        "{name}: the test cannot tell ({lost:.2})"
    );
}

/// The same pixels with no profile: what a viewer shows when the profile is gone.
fn strip_to_pixels(jpeg: &[u8]) -> Vec<u8> {
    let image = image::load_from_memory(jpeg).unwrap().into_rgb8();
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

#[test]
fn a_display_p3_jpeg_keeps_its_colours() {
    assert_same_colours("Display P3", &ColorProfile::new_display_p3());
}

#[test]
fn an_adobe_rgb_jpeg_keeps_its_colours() {
    assert_same_colours("Adobe RGB", &ColorProfile::new_adobe_rgb());
}

#[test]
fn a_profile_that_does_not_parse_is_dropped_not_refused() {
    let original = photo::jpeg_with_profile(320, 240, 85, 3, Some(b"not an ICC profile at all"));
    let out = clean(&original, ImageType::Jpeg);
    assert_eq!(out.profile, ProfileFate::Dropped);
    assert_eq!(as_shown(&out.bytes).len(), 320 * 240 * 3);
}

#[test]
fn a_q75_jpeg_is_republished_at_75_and_does_not_grow() {
    // 1.2 MP, the size of a small photo.
    let original = photo::jpeg(1280, 960, 75, 11);
    assert_eq!(jpeg_facts(&original).quality, Some(75));
    let out = clean(&original, ImageType::Jpeg);
    assert_eq!(out.quality, Some(75));
    let drift = mean_abs_difference(&as_shown(&original), &as_shown(&out.bytes));
    assert!(drift < 2.0, "pixels moved by {drift:.2} on average");
    let growth = out.bytes.len() as f64 / original.len() as f64;
    assert!(
        growth <= 1.10,
        "grew {growth:.3}× ({} → {})",
        original.len(),
        out.bytes.len()
    );
}

#[test]
fn a_q98_jpeg_is_capped_at_90() {
    let original = photo::jpeg(640, 480, 98, 5);
    let out = clean(&original, ImageType::Jpeg);
    assert_eq!(out.quality, Some(MAX_QUALITY));
    assert!(out.bytes.len() < original.len());
}

#[test]
fn a_lossy_webp_comes_out_lossy_and_no_more_than_a_fifth_larger() {
    for quality in [50.0, 75.0, 90.0] {
        let original = photo::webp_lossy(800, 600, quality, 13);
        assert!(webp_facts(&original).lossy);
        let out = clean(&original, ImageType::Webp);
        let facts = webp_facts(&out.bytes);
        assert!(facts.lossy, "q{quality}: published lossless");
        // Read back from the VP8 quantizers, within a few points of the quality it was made at.
        let read_back = f32::from(out.quality.unwrap());
        assert!(
            (read_back - quality).abs() <= 8.0,
            "q{quality}: republished at {read_back}"
        );
        let growth = out.bytes.len() as f64 / original.len() as f64;
        assert!(
            growth <= 1.2,
            "q{quality}: grew {growth:.3}× ({} → {})",
            original.len(),
            out.bytes.len()
        );
        let decoded = image::load_from_memory(&out.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (800, 600));
    }
}

/// A JPEG whose luminance is at quality 90 (what the sanitizer reads) but whose chroma is
/// far coarser than any quality-90 table: re-encoded at 90, it grows.
fn jpeg_with_coarse_chroma() -> Vec<u8> {
    // Strong colour detail, so the finer chroma of the copy costs bytes whatever the encoder.
    let mut pixels = photo::rgb(800, 600, 17);
    for (i, pixel) in pixels.chunks_exact_mut(3).enumerate() {
        let swing = ((i as u32).wrapping_mul(2_654_435_761) >> 25) as u8;
        pixel[0] = pixel[0].saturating_add(swing);
        pixel[2] = pixel[2].saturating_sub(swing);
    }
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    encoder.set_quantization_tables(
        jpeg_encoder::QuantizationTableType::Default,
        jpeg_encoder::QuantizationTableType::Custom(Box::new([1000; 64])),
    );
    encoder
        .encode(&pixels, 800, 600, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

#[test]
fn a_copy_over_the_size_limit_is_encoded_again_at_a_lower_quality() {
    let original = jpeg_with_coarse_chroma();
    let at_source_quality = clean(&original, ImageType::Jpeg);
    assert_eq!(at_source_quality.quality, Some(90));
    // A limit the file itself meets, but its copy at quality 90 does not.
    let limit = at_source_quality.bytes.len() as u64 - 1;
    assert!(
        original.len() as u64 <= limit,
        "the upload itself must be within the limit: {} > {limit}",
        original.len()
    );
    let policy = Policy {
        max_bytes: limit,
        ..Policy::default()
    };
    let out = sanitize(
        &original,
        ImageType::Jpeg,
        &policy,
        DEFAULT_MAX_DECODE_ALLOC,
    )
    .unwrap();
    assert!(out.bytes.len() as u64 <= limit);
    assert!(out.quality.unwrap() < 90, "quality {:?}", out.quality);
    assert_eq!(jpeg_facts(&out.bytes).quality, out.quality);
}

#[test]
fn a_copy_that_cannot_fit_is_reencoded_too_large() {
    // A palette PNG of noise: one byte a pixel in the upload, three once published as RGB,
    // and PNG has no quality to lower.
    let out = photo::png_palette_noise(512, 512);
    let policy = Policy {
        max_bytes: out.len() as u64 * 2,
        ..Policy::default()
    };
    let result = sanitize(&out, ImageType::Png, &policy, DEFAULT_MAX_DECODE_ALLOC);
    assert_eq!(
        result.map(|s| s.bytes.len()),
        Err(ReasonCode::ReencodedTooLarge)
    );
}

#[test]
fn a_png_whose_profile_inflates_hugely_is_published_without_it() {
    // 256 MiB of profile in about 250 KiB of file: the cap stops inflating at 256 KiB.
    let bomb = photo::png_with_iccp_bomb(64, 64, 256 << 20);
    assert!(
        bomb.len() < 1 << 20,
        "the bomb should be small: {}",
        bomb.len()
    );
    let out = clean(&bomb, ImageType::Png);
    assert_eq!(out.profile, ProfileFate::Dropped);
    assert_eq!((out.width, out.height), (64, 64));
    let mut decoder = ImageReader::new(std::io::Cursor::new(&out.bytes))
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    assert_eq!(decoder.icc_profile().unwrap(), None);
}

#[test]
fn a_png_with_a_small_profile_keeps_it() {
    let icc = ColorProfile::new_display_p3().encode().unwrap();
    let mut png = Vec::new();
    let mut encoder = image::codecs::png::PngEncoder::new(&mut png);
    encoder.set_icc_profile(icc).unwrap();
    let pixels = photo::rgb(200, 100, 1);
    encoder
        .write_image(&pixels, 200, 100, image::ExtendedColorType::Rgb8)
        .unwrap();
    let out = clean(&png, ImageType::Png);
    assert_eq!(out.profile, ProfileFate::Kept);
    // Lossless: shown exactly as the upload is.
    assert_eq!(as_shown(&out.bytes), as_shown(&png));
}
