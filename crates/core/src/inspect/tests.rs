//! The gate's order of checks and its policy knobs, on hand-built headers. The catalogue of
//! real generated files is judged in `crates/core/tests/gate.rs`.

use std::cell::RefCell;
use std::convert::Infallible;

use bytes::Bytes;

use super::*;

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut chunk = b"IHDR".to_vec();
    chunk.extend(width.to_be_bytes());
    chunk.extend(height.to_be_bytes());
    chunk.extend([8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(13u32.to_be_bytes());
    out.extend(&chunk);
    out.extend(png::crc32_for_tests(&chunk).to_be_bytes());
    out.extend(b"\0\0\0\0IEND\xAE\x42\x60\x82");
    out
}

/// SOI, APP1 segments with these many bytes of data, a SOF of the given size, EOI.
fn jpeg(app_lens: &[usize], width: u16, height: u16) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    for &len in app_lens {
        out.extend([0xFF, 0xE1]);
        out.extend(u16::try_from(len + 2).unwrap().to_be_bytes());
        out.extend(vec![0xAB; len]);
    }
    out.extend([0xFF, 0xC0, 0, 11, 8]);
    out.extend(height.to_be_bytes());
    out.extend(width.to_be_bytes());
    out.extend([1, 1, 0x11, 0, 0xFF, 0xD9]);
    out
}

fn judge(bytes: &[u8], declared: &str, policy: &Policy) -> Verdict {
    inspect(bytes, bytes.len() as u64, declared, policy)
}

fn rejected(reason: ReasonCode) -> Verdict {
    Verdict::Reject { reason }
}

fn accepted(image_type: ImageType, width: u32, height: u32) -> Verdict {
    Verdict::Accept {
        image_type,
        width,
        height,
    }
}

#[test]
fn size_checks_come_first_and_need_no_bytes() {
    let p = Policy::default();
    assert_eq!(
        inspect(b"", 0, "image/png", &p),
        rejected(ReasonCode::Empty)
    );
    let p100 = Policy {
        min_bytes: 100,
        ..Policy::default()
    };
    assert_eq!(
        judge(&png(64, 64), "image/png", &p100),
        rejected(ReasonCode::TooSmall)
    );
    assert_eq!(
        inspect(b"", p.max_bytes + 1, "image/png", &p),
        rejected(ReasonCode::TooLarge)
    );
    assert_eq!(
        inspect(&png(64, 64), p.max_bytes, "image/png", &p),
        accepted(ImageType::Png, 64, 64)
    );
}

#[test]
fn the_allowlist_and_the_declared_type_are_checked_before_the_header() {
    let jpeg_only = Policy {
        allowed_types: [ImageType::Jpeg].into(),
        ..Policy::default()
    };
    let mut damaged = png(64, 64);
    damaged[4] = b'\n';
    assert_eq!(
        judge(&damaged, "image/png", &jpeg_only),
        rejected(ReasonCode::TypeNotAllowed)
    );
    assert_eq!(
        judge(&png(64, 64), "image/png", &jpeg_only),
        rejected(ReasonCode::TypeNotAllowed)
    );

    let p = Policy::default();
    assert_eq!(
        judge(&damaged, "image/jpeg", &p),
        rejected(ReasonCode::TypeMismatch)
    );
    assert_eq!(
        judge(&damaged, "image/png", &p),
        rejected(ReasonCode::Corrupt)
    );
    for declared in [
        "image/jpeg",
        "image/jpg",
        "application/octet-stream",
        "",
        " image/png",
    ] {
        assert_eq!(
            judge(&png(64, 64), declared, &p),
            rejected(ReasonCode::TypeMismatch),
            "{declared}"
        );
    }
    assert_eq!(
        judge(&png(64, 64), "IMAGE/PNG", &p),
        accepted(ImageType::Png, 64, 64)
    );

    let lax = Policy {
        require_type_match: false,
        ..Policy::default()
    };
    assert_eq!(
        judge(&png(64, 64), "image/jpeg", &lax),
        accepted(ImageType::Png, 64, 64)
    );
}

#[test]
fn dimension_limits_are_inclusive() {
    let p = Policy::default();
    let cases = [
        ((8192, 4882), accepted(ImageType::Png, 8192, 4882)),
        ((8193, 64), rejected(ReasonCode::TooLargeDimensions)),
        ((64, 8193), rejected(ReasonCode::TooLargeDimensions)),
        ((8000, 5000), accepted(ImageType::Png, 8000, 5000)),
        ((8000, 5001), rejected(ReasonCode::TooLargeDimensions)),
        ((64, 64), accepted(ImageType::Png, 64, 64)),
        ((63, 64), rejected(ReasonCode::TooSmallDimensions)),
        ((64, 1), rejected(ReasonCode::TooSmallDimensions)),
        // Too large wins: the image is refused for its size whatever else is wrong.
        ((100_000, 1), rejected(ReasonCode::TooLargeDimensions)),
    ];
    for ((w, h), want) in cases {
        assert_eq!(judge(&png(w, h), "image/png", &p), want, "{w}x{h}");
    }
}

#[test]
fn a_short_prefix_asks_for_more_and_a_short_file_is_truncated() {
    let p = Policy::default();
    let file = png(640, 480);
    let total = file.len() as u64;
    assert_eq!(
        inspect(&file[..3], total, "image/png", &p),
        Verdict::NeedMore { bytes: 12 }
    );
    assert_eq!(
        inspect(&file[..3], 8, "image/png", &p),
        Verdict::NeedMore { bytes: 8 }
    );
    assert_eq!(
        inspect(&file[..20], total, "image/png", &p),
        Verdict::NeedMore { bytes: 33 }
    );
    assert_eq!(
        judge(&file[..20], "image/png", &p),
        rejected(ReasonCode::Truncated)
    );
    assert_eq!(
        judge(&file[..5], "image/png", &p),
        rejected(ReasonCode::Truncated)
    );
    assert_eq!(
        judge(b"hello", "image/png", &p),
        rejected(ReasonCode::TypeNotAllowed)
    );
    // Bytes beyond the object's real size do not exist.
    assert_eq!(
        inspect(&file, 20, "image/png", &p),
        rejected(ReasonCode::Truncated)
    );
}

#[test]
fn a_header_beyond_the_cap_is_too_deep_even_when_the_bytes_are_there() {
    let p = Policy::default();
    let deep = jpeg(&[60_000, 10_000], 640, 480);
    assert_eq!(
        judge(&deep, "image/jpeg", &p),
        rejected(ReasonCode::HeaderTooDeep)
    );
    let roomy = Policy {
        gate_max_bytes: 128 * 1024,
        gate_first_read_bytes: 128 * 1024,
        ..Policy::default()
    };
    assert_eq!(
        judge(&deep, "image/jpeg", &roomy),
        accepted(ImageType::Jpeg, 640, 480)
    );
    let shallow = jpeg(&[60_000], 640, 480);
    assert_eq!(
        judge(&shallow, "image/jpeg", &p),
        accepted(ImageType::Jpeg, 640, 480)
    );
}

/// A reader over `file` that records every length asked for.
fn reader<'a>(
    file: &'a [u8],
    asked: &'a RefCell<Vec<u64>>,
) -> impl FnMut(u64) -> std::future::Ready<Result<Bytes, Infallible>> + 'a {
    move |n| {
        asked.borrow_mut().push(n);
        let end = file.len().min(usize::try_from(n).unwrap());
        std::future::ready(Ok(Bytes::copy_from_slice(&file[..end])))
    }
}

#[tokio::test]
async fn run_gate_reads_once_with_the_default_policy() {
    let p = Policy::default();
    let file = jpeg(&[60_000], 640, 480);
    let asked = RefCell::new(vec![]);
    let out = run_gate(file.len() as u64, "image/jpeg", &p, reader(&file, &asked)).await;
    let out = out.unwrap();
    assert_eq!(out.verdict, accepted(ImageType::Jpeg, 640, 480));
    assert_eq!(out.bytes_read, file.len() as u64);
    assert_eq!(*asked.borrow(), [file.len() as u64]);

    let deep = jpeg(&[60_000, 10_000], 640, 480);
    let asked = RefCell::new(vec![]);
    let out = run_gate(deep.len() as u64, "image/jpeg", &p, reader(&deep, &asked)).await;
    let out = out.unwrap();
    assert_eq!(out.verdict, rejected(ReasonCode::HeaderTooDeep));
    assert_eq!(*asked.borrow(), [65_536]);
}

#[tokio::test]
async fn run_gate_reads_once_more_up_to_the_cap_when_the_header_is_further() {
    let p = Policy {
        gate_first_read_bytes: 4096,
        ..Policy::default()
    };
    let file = jpeg(&[30_000], 640, 480);
    let total = file.len() as u64;
    let asked = RefCell::new(vec![]);
    let out = run_gate(total, "image/jpeg", &p, reader(&file, &asked))
        .await
        .unwrap();
    assert_eq!(out.verdict, accepted(ImageType::Jpeg, 640, 480));
    assert_eq!(*asked.borrow(), [4096, total]);
    assert_eq!(out.bytes_read, total);

    // A header the first read already shows needs no second read.
    let small = jpeg(&[100], 640, 480);
    let asked = RefCell::new(vec![]);
    let out = run_gate(small.len() as u64, "image/jpeg", &p, reader(&small, &asked)).await;
    assert_eq!(out.unwrap().verdict, accepted(ImageType::Jpeg, 640, 480));
    assert_eq!(asked.borrow().len(), 1);
}

#[tokio::test]
async fn run_gate_reads_nothing_when_the_size_decides() {
    let p = Policy::default();
    let never = |_n: u64| async { panic!("read for a size-only verdict") };
    let out = run_gate::<_, _, Infallible>(0, "image/png", &p, never)
        .await
        .unwrap();
    assert_eq!(
        (out.verdict, out.bytes_read),
        (rejected(ReasonCode::Empty), 0)
    );
    let out = run_gate::<_, _, Infallible>(p.max_bytes + 1, "image/png", &p, never)
        .await
        .unwrap();
    assert_eq!(
        (out.verdict, out.bytes_read),
        (rejected(ReasonCode::TooLarge), 0)
    );
}

#[tokio::test]
async fn run_gate_calls_a_short_read_truncated_and_passes_errors_through() {
    let p = Policy::default();
    let file = png(640, 480);
    let cut = &file[..20];
    let asked = RefCell::new(vec![]);
    // HEAD said 1000 bytes, but the object holds 20.
    let out = run_gate(1000, "image/png", &p, reader(cut, &asked))
        .await
        .unwrap();
    assert_eq!(out.verdict, rejected(ReasonCode::Truncated));
    assert_eq!(out.bytes_read, 20);

    let failing = |_n: u64| async { Err::<Bytes, _>("store down") };
    assert_eq!(
        run_gate(1000, "image/png", &p, failing).await,
        Err("store down")
    );
}
