//! Images refused for their header: sizes out of bounds, cut short, malformed, or out of the
//! gate's reach.

use vetted_core::ReasonCode;

use super::{Case, Expect, JPEG, PNG, Sample, WEBP, build};
use crate::images::{self, PngKind};
use crate::raw;

pub(super) fn samples() -> Vec<Sample> {
    use ReasonCode::{Corrupt, HeaderTooDeep, TooLargeDimensions, TooSmallDimensions, Truncated};
    let png = images::png(320, 240);
    let jpeg = images::jpeg(320, 240);
    let webp = images::webp_lossless(200, 100);

    let mut jpeg_64250 = images::jpeg(64, 64);
    raw::set_jpeg_frame_size(&mut jpeg_64250, 64_250, 64_250);
    let mut webp_wide = images::webp_extended(200, 100);
    webp_wide[24..27].copy_from_slice(&(20_000u32 - 1).to_le_bytes()[..3]);

    let with_ihdr = |data: &[u8], declared_len: u32| {
        let mut chunk = raw::png_chunk(b"IHDR", data);
        chunk[..4].copy_from_slice(&declared_len.to_be_bytes());
        let mut out = raw::PNG_SIGNATURE.to_vec();
        out.extend(chunk);
        out.extend(raw::png_chunk(b"IEND", &[]));
        out
    };
    let mut png_bad_crc = png.clone();
    png_bad_crc[29] ^= 0xFF;
    let mut png_crlf_damaged = png.clone();
    png_crlf_damaged.remove(4); // "\r\n" in the signature became "\n"
    let sos_first =
        raw::insert_before_frame_header(&jpeg, &raw::jpeg_segment(0xDA, &[1, 1, 0, 0, 63, 0]));
    let bad_marker = raw::insert_before_frame_header(&jpeg, &[0x12, 0x34, 0x00, 0x10]);
    let mut webp_unknown_chunk = webp.clone();
    webp_unknown_chunk[12..16].copy_from_slice(b"ALPH");
    let too_deep = {
        let pad = raw::jpeg_segment(0xE2, &vec![0x55; 40_000]);
        raw::insert_after_soi(&raw::insert_after_soi(&jpeg, &pad), &pad)
    };

    build(vec![
        Case(
            "png_ihdr_100000",
            "giant.png",
            PNG,
            raw::png_header_only(100_000, 100_000),
            Expect::Reject(TooLargeDimensions),
            false,
            "IHDR claims 100000x100000 (header only)",
        ),
        Case(
            "jpeg_sof_64250",
            "giant.jpg",
            JPEG,
            jpeg_64250,
            Expect::Reject(TooLargeDimensions),
            false,
            "SOF claims 64250x64250 (rewritten header)",
        ),
        Case(
            "png_side_8193",
            "wide.png",
            PNG,
            images::png_of(PngKind::Gray8, 8193, 64),
            Expect::Reject(TooLargeDimensions),
            true,
            "a side of 8193",
        ),
        Case(
            "png_side_16",
            "narrow.png",
            PNG,
            images::png(16, 64),
            Expect::Reject(TooSmallDimensions),
            true,
            "a side of 16",
        ),
        Case(
            "png_8000x5001",
            "poster.png",
            PNG,
            raw::png_header_only(8000, 5001),
            Expect::Reject(TooLargeDimensions),
            false,
            "40,005,000 pixels, over 40 MP (header only)",
        ),
        Case(
            "webp_canvas_20000",
            "wide.webp",
            WEBP,
            webp_wide,
            Expect::Reject(TooLargeDimensions),
            false,
            "VP8X canvas 20000 wide (rewritten header)",
        ),
        Case(
            "png_truncated_ihdr",
            "cut.png",
            PNG,
            png[..20].to_vec(),
            Expect::Reject(Truncated),
            false,
            "ends inside IHDR",
        ),
        Case(
            "jpeg_cut_after_soi",
            "cut.jpg",
            JPEG,
            jpeg[..2].to_vec(),
            Expect::Reject(Truncated),
            false,
            "SOI and nothing else",
        ),
        Case(
            "jpeg_cut_after_app0",
            "cut2.jpg",
            JPEG,
            jpeg[..20].to_vec(),
            Expect::Reject(Truncated),
            false,
            "ends before the frame header",
        ),
        Case(
            "webp_cut_in_header",
            "cut.webp",
            WEBP,
            webp[..16].to_vec(),
            Expect::Reject(Truncated),
            false,
            "ends inside the first chunk header",
        ),
        Case(
            "png_ihdr_length_12",
            "bad-ihdr.png",
            PNG,
            with_ihdr(&raw::ihdr_data(320, 240, 8, 2), 12),
            Expect::Reject(Corrupt),
            false,
            "IHDR length is not 13",
        ),
        Case(
            "png_zero_width",
            "zero.png",
            PNG,
            with_ihdr(&raw::ihdr_data(0, 240, 8, 2), 13),
            Expect::Reject(Corrupt),
            false,
            "IHDR width 0",
        ),
        Case(
            "png_bad_bit_depth",
            "depth.png",
            PNG,
            with_ihdr(&raw::ihdr_data(320, 240, 7, 2), 13),
            Expect::Reject(Corrupt),
            false,
            "bit depth 7",
        ),
        Case(
            "png_bad_crc",
            "crc.png",
            PNG,
            png_bad_crc,
            Expect::Reject(Corrupt),
            false,
            "IHDR CRC does not match",
        ),
        Case(
            "png_signature_damaged",
            "crlf.png",
            PNG,
            png_crlf_damaged,
            Expect::Reject(Corrupt),
            false,
            "signature mangled by a text-mode transfer",
        ),
        Case(
            "jpeg_sos_before_sof",
            "scan-first.jpg",
            JPEG,
            sos_first,
            Expect::Reject(Corrupt),
            false,
            "a scan before any frame header",
        ),
        Case(
            "jpeg_bad_marker",
            "marker.jpg",
            JPEG,
            bad_marker,
            Expect::Reject(Corrupt),
            false,
            "bytes where a marker must be",
        ),
        Case(
            "webp_unknown_first_chunk",
            "chunk.webp",
            WEBP,
            webp_unknown_chunk,
            Expect::Reject(Corrupt),
            false,
            "first chunk is not VP8, VP8L or VP8X",
        ),
        Case(
            "jpeg_header_too_deep",
            "deep.jpg",
            JPEG,
            too_deep,
            Expect::Reject(HeaderTooDeep),
            true,
            "80 KB of APP2 before the frame header",
        ),
    ])
}
