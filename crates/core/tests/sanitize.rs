//! The sanitizer on real files: what it must strip, what it must refuse, and what it must keep.

use vetted_core::policy::Policy;
use vetted_core::review::sanitize::{DEFAULT_MAX_DECODE_ALLOC, PREVIEW_MAX_SIDE, sanitize};
use vetted_core::{ImageType, ReasonCode};
use vetted_samples::exif::{Ifd, Value};
use vetted_samples::{Expect, catalogue, exif, hostile, images};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn clean(bytes: &[u8], image_type: ImageType) -> vetted_core::review::sanitize::Sanitized {
    sanitize(
        bytes,
        image_type,
        &Policy::default(),
        DEFAULT_MAX_DECODE_ALLOC,
    )
    .unwrap_or_else(|reason| panic!("refused with {reason}"))
}

#[test]
fn gps_exif_does_not_survive() {
    let original = images::jpeg_with_gps(320, 240, 48.8584, 2.2945);
    assert!(
        contains(&original, b"Exif\0\0"),
        "the sample must carry EXIF"
    );
    let out = clean(&original, ImageType::Jpeg);
    assert!(!contains(&out.bytes, b"Exif"), "EXIF survived");
    assert!(!contains(&out.bytes, b"GPS"), "GPS text survived");
    let decoded = image::load_from_memory(&out.bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (320, 240));
}

#[test]
fn html_appended_after_iend_does_not_survive() {
    let original = hostile::png_with_html_after_iend(200, 100);
    assert!(
        contains(&original, b"<script"),
        "the sample must carry the page"
    );
    let out = clean(&original, ImageType::Png);
    assert!(!contains(&out.bytes, b"<script"));
    assert!(!contains(&out.bytes, b"<html"));
    let iend = out.bytes.len() - 12;
    assert_eq!(
        &out.bytes[iend + 4..iend + 8],
        b"IEND",
        "nothing may follow IEND"
    );
}

#[test]
fn exif_orientation_is_applied_before_the_metadata_goes() {
    let rotate_90 = exif::tiff(&Ifd(vec![(0x0112, Value::Short(6))]), None);
    let original = images::jpeg_of(
        images::JpegKind::Baseline,
        300,
        100,
        vec![images::exif_app1(&rotate_90)],
    );
    let out = clean(&original, ImageType::Jpeg);
    assert_eq!((out.width, out.height), (100, 300), "not rotated");
    let decoded = image::load_from_memory(&out.bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (100, 300));
}

#[test]
fn every_format_comes_back_as_itself_with_a_small_webp_preview() {
    for (image_type, bytes) in [
        (ImageType::Png, images::png(640, 480)),
        (ImageType::Jpeg, images::jpeg(640, 480)),
        (ImageType::Webp, images::webp_lossless(640, 480)),
    ] {
        let out = clean(&bytes, image_type);
        let format = image::guess_format(&out.bytes).unwrap();
        assert_eq!(format.to_mime_type(), image_type.mime());
        let preview = image::load_from_memory(&out.preview).unwrap();
        assert_eq!(
            image::guess_format(&out.preview).unwrap(),
            image::ImageFormat::WebP
        );
        assert_eq!(preview.width().max(preview.height()), PREVIEW_MAX_SIDE);
    }
}

#[test]
fn every_image_the_gate_accepts_sanitizes_except_header_only_ones() {
    for sample in catalogue() {
        let Expect::Accept { image_type, .. } = sample.expect else {
            continue;
        };
        let result = sanitize(
            &sample.bytes,
            image_type,
            &Policy::default(),
            DEFAULT_MAX_DECODE_ALLOC,
        );
        // The lossy WebP sample is a VP8 header with no picture: the gate measures it, the
        // decoder must refuse it.
        let header_only = sample.name == "webp_lossy_header";
        match result {
            Ok(_) => assert!(
                !header_only,
                "{}: a header with no picture passed",
                sample.name
            ),
            Err(reason) => {
                assert!(header_only, "{}: refused with {reason}", sample.name);
                assert_eq!(reason, ReasonCode::Corrupt, "{}", sample.name);
            }
        }
    }
}

#[test]
fn a_pixel_bomb_within_the_gate_fails_cleanly_under_the_allocation_cap() {
    // 8000 × 5000 = 40 MP: exactly what the gate allows, a few kilobytes on disk, and 40 MB
    // (grey) to 160 MB (RGBA) once decoded.
    let mut bomb = Vec::new();
    image::GrayImage::new(8000, 5000)
        .write_to(
            &mut std::io::Cursor::new(&mut bomb),
            image::ImageFormat::Png,
        )
        .unwrap();
    assert!(
        bomb.len() < 200_000,
        "the bomb should be small: {}",
        bomb.len()
    );
    let cap = 16 * 1024 * 1024;
    let result = sanitize(&bomb, ImageType::Png, &Policy::default(), cap).map(|s| s.width);
    assert_eq!(result, Err(ReasonCode::TooLargeDimensions));
}

#[test]
fn a_webp_canvas_that_lies_about_its_bitstream_is_refused() {
    // The VP8X canvas (what the gate reads) says 100 × 100; the lossless bitstream inside
    // holds 1000 × 1000. A decoder trusting the bitstream would allocate 100× the promise.
    let mut lying = images::webp_extended(1000, 1000);
    lying[24..27].copy_from_slice(&99u32.to_le_bytes()[..3]);
    lying[27..30].copy_from_slice(&99u32.to_le_bytes()[..3]);
    let result = sanitize(
        &lying,
        ImageType::Webp,
        &Policy::default(),
        DEFAULT_MAX_DECODE_ALLOC,
    );
    assert!(
        result.is_err(),
        "a canvas smaller than its bitstream was accepted"
    );
}

#[test]
fn the_gate_runs_again_on_the_whole_file() {
    let jpeg = images::jpeg(100, 100);
    assert_eq!(
        sanitize(
            &jpeg,
            ImageType::Png,
            &Policy::default(),
            DEFAULT_MAX_DECODE_ALLOC
        ),
        Err(ReasonCode::TypeMismatch)
    );
    let svg = hostile::svg_with_script();
    assert_eq!(
        sanitize(
            &svg,
            ImageType::Png,
            &Policy::default(),
            DEFAULT_MAX_DECODE_ALLOC
        ),
        Err(ReasonCode::TypeNotAllowed)
    );
    assert_eq!(
        sanitize(
            &[],
            ImageType::Png,
            &Policy::default(),
            DEFAULT_MAX_DECODE_ALLOC
        ),
        Err(ReasonCode::Empty)
    );
}

#[test]
fn truncated_image_data_is_corrupt_not_a_panic() {
    let png = images::png(300, 300);
    for cut in [png.len() / 2, png.len() - 20] {
        let result = sanitize(
            &png[..cut],
            ImageType::Png,
            &Policy::default(),
            DEFAULT_MAX_DECODE_ALLOC,
        );
        assert_eq!(result, Err(ReasonCode::Corrupt), "cut at {cut}");
    }
}
