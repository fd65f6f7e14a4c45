//! Properties of the sanitizer's own readers on arbitrary and damaged input: reading a JPEG's
//! or a WebP's compression facts never panics, and damaged photos, profiles and iCCP chunks
//! are refused with a reason or published, never a panic.

// Test code, helpers included: a failed unwrap is a failed assertion.
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;

use moxcms::ColorProfile;
use proptest::prelude::*;
use vetted_core::ImageType;
use vetted_core::policy::Policy;
use vetted_core::review::sanitize::facts::{jpeg_facts, webp_facts};
use vetted_core::review::sanitize::{DEFAULT_MAX_DECODE_ALLOC, sanitize};
use vetted_samples::photo;

/// Small files exercising every new path: a JPEG with a profile, a lossy WebP, a PNG with a
/// profile in iCCP.
fn originals() -> &'static [(ImageType, Vec<u8>)] {
    static ALL: OnceLock<Vec<(ImageType, Vec<u8>)>> = OnceLock::new();
    ALL.get_or_init(|| {
        let icc = ColorProfile::new_display_p3().encode().unwrap();
        let mut png = Vec::new();
        let mut encoder = image::codecs::png::PngEncoder::new(&mut png);
        image::ImageEncoder::set_icc_profile(&mut encoder, icc.clone()).unwrap();
        image::ImageEncoder::write_image(
            encoder,
            &photo::rgb(96, 80, 3),
            96,
            80,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
        vec![
            (
                ImageType::Jpeg,
                photo::jpeg_with_profile(96, 80, 80, 1, Some(&icc)),
            ),
            (ImageType::Webp, photo::webp_lossy(96, 80, 70.0, 2)),
            (ImageType::Png, png),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn facts_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = jpeg_facts(&bytes);
        let _ = webp_facts(&bytes);
        let mut riff = b"RIFF\0\0\0\0WEBPVP8 ".to_vec();
        riff.extend(&bytes);
        let _ = webp_facts(&riff);
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xDB];
        jpeg.extend(&bytes);
        let _ = jpeg_facts(&jpeg);
    }

    #[test]
    fn damaged_files_are_refused_or_published_never_a_panic(
        which in 0usize..3,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let (image_type, original) = &originals()[which];
        let mut bytes = original.clone();
        for (at, value) in flips {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        let _ = sanitize(&bytes, *image_type, &Policy::default(), DEFAULT_MAX_DECODE_ALLOC);
    }
}
