//! Fuzz target `sanitize`: the deep check on arbitrary bytes, checking that it never panics
//! (nor crashes in the C encoders it feeds: libjpeg-turbo for JPEG, libwebp for lossy WebP)
//! and that whatever it publishes is what it says: the declared type, the stated sides, within
//! the policy's size, at a quality no higher than the cap.
//!
//! Input layout: byte 0 picks the declared type (JPEG, PNG or WebP), then the file. The
//! policy is small (sides up to 512, 64 Ki pixels) so that each run is quick.
//! Seeds: `fuzz/seeds/sanitize`, small JPEGs from `crates/samples/examples/photos.rs`, each
//! behind a 0 byte.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vetted_core::review::sanitize::{MAX_QUALITY, sanitize};
use vetted_core::{ImageType, Policy};

fuzz_target!(|data: &[u8]| {
    let Some((&kind, file)) = data.split_first() else {
        return;
    };
    let declared = match kind % 3 {
        0 => ImageType::Jpeg,
        1 => ImageType::Png,
        _ => ImageType::Webp,
    };
    let policy = Policy {
        min_side: 1,
        max_side: 512,
        max_pixels: 64 * 1024,
        max_bytes: 1 << 20,
        ..Policy::default()
    };
    let Ok(out) = sanitize(file, declared, &policy, 16 << 20) else {
        return;
    };
    assert_eq!(out.image_type, declared);
    assert!(out.bytes.len() as u64 <= policy.max_bytes);
    assert!(out.quality.is_none_or(|q| q <= MAX_QUALITY));
    let format =
        image::ImageFormat::from_mime_type(declared.mime()).expect("image knows every type");
    let published = image::load_from_memory_with_format(&out.bytes, format)
        .expect("the published copy decodes");
    assert_eq!(
        (published.width(), published.height()),
        (out.width, out.height)
    );
});
