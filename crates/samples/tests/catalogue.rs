//! The samples are what they say: decodable ones decode at the size the catalogue expects,
//! other tools measure the same size, and names are unique.

use std::collections::BTreeSet;
use std::io::Cursor;

use vetted_samples::{Expect, catalogue, images, raw};

#[test]
fn names_are_unique_and_the_issue_cases_are_all_there() {
    let all = catalogue();
    let names: BTreeSet<_> = all.iter().map(|s| s.name).collect();
    assert_eq!(names.len(), all.len());
    assert!(all.len() >= 25, "{} cases", all.len());
    assert_eq!(
        all.iter().find(|s| s.name == "empty").unwrap().bytes.len(),
        0
    );
    assert_eq!(
        all.iter()
            .find(|s| s.name == "five_bytes_text")
            .unwrap()
            .bytes
            .len(),
        5
    );
    let big = all
        .iter()
        .find(|s| s.name == "too_large_20mib_plus_1")
        .unwrap();
    assert_eq!(big.bytes.len(), 20 * 1024 * 1024 + 1);
}

#[test]
fn decodable_samples_decode_at_the_expected_size() {
    for s in catalogue().iter().filter(|s| s.decodable) {
        let image = image::ImageReader::new(Cursor::new(&s.bytes))
            .with_guessed_format()
            .unwrap()
            .decode()
            .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        if let Expect::Accept { width, height, .. } = s.expect {
            assert_eq!(
                (image.width(), image.height()),
                (width, height),
                "{}",
                s.name
            );
        }
    }
}

#[test]
fn imagesize_measures_accepted_samples_as_the_catalogue_says() {
    for s in catalogue() {
        if let Expect::Accept { width, height, .. } = s.expect {
            let size = imagesize::blob_size(&s.bytes).unwrap_or_else(|e| panic!("{}: {e}", s.name));
            assert_eq!(
                (size.width, size.height),
                (width as usize, height as usize),
                "{}",
                s.name
            );
        }
    }
}

#[test]
fn the_rewritten_headers_say_what_they_claim() {
    let mut jpeg = images::jpeg(64, 64);
    raw::set_jpeg_frame_size(&mut jpeg, 64_250, 1234);
    let size = imagesize::blob_size(&jpeg).unwrap();
    assert_eq!((size.width, size.height), (64_250, 1234));
    let size = imagesize::blob_size(&raw::png_header_only(100_000, 7)).unwrap();
    assert_eq!((size.width, size.height), (100_000, 7));
}

#[test]
fn the_lying_thumbnail_fools_a_naive_scan() {
    // Proves the case is a real trap: the first FF C0 in the file is the thumbnail's.
    let file = images::jpeg_with_lying_thumbnail(320, 240, (20_000, 20_000));
    let first_sof = file.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let claimed = u16::from_be_bytes([file[first_sof + 7], file[first_sof + 8]]);
    assert_eq!(claimed, 20_000);
    assert_ne!(Some(first_sof), raw::jpeg_frame_header_offset(&file));
}
