//! PNG: the dimensions from IHDR, which the format requires to be the first chunk.

use super::{Dimensions, Header, Stop, take};

/// Signature (8) + chunk length (4) + "IHDR" (4): enough to know the first chunk is an IHDR.
const CHUNK_HEAD_END: usize = 16;
/// ... + 13 bytes of IHDR data + its CRC.
const IHDR_END: usize = 33;
/// The PNG specification caps each side at 2^31 - 1.
const MAX_SIDE: u32 = i32::MAX as u32;

pub(super) fn dimensions(buf: &[u8]) -> Header {
    let head = take(buf, 8, CHUNK_HEAD_END - 8)?;
    if head[..4] != 13u32.to_be_bytes() || &head[4..] != b"IHDR" {
        return Err(Stop::Corrupt);
    }
    let chunk = take(buf, 12, IHDR_END - 12)?;
    let (kind_and_data, crc) = chunk.split_at(4 + 13);
    if crc32(kind_and_data).to_be_bytes() != crc {
        return Err(Stop::Corrupt);
    }
    let data = &kind_and_data[4..];
    let width = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    let height = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
    let (bit_depth, color_type) = (data[8], data[9]);
    let (compression, filter, interlace) = (data[10], data[11], data[12]);
    let depth_fits_color = match color_type {
        0 => matches!(bit_depth, 1 | 2 | 4 | 8 | 16),
        3 => matches!(bit_depth, 1 | 2 | 4 | 8),
        2 | 4 | 6 => matches!(bit_depth, 8 | 16),
        _ => false,
    };
    let sides_ok = (1..=MAX_SIDE).contains(&width) && (1..=MAX_SIDE).contains(&height);
    if !depth_fits_color || !sides_ok || compression != 0 || filter != 0 || interlace > 1 {
        return Err(Stop::Corrupt);
    }
    Ok(Dimensions { width, height })
}

/// CRC-32 as PNG defines it (ISO 3309, reflected, polynomial 0xEDB88320). Bitwise: it only
/// ever runs over IHDR's 17 bytes, where a table would cost more to build than it saves.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let low_bit_set = crc & 1 == 1;
            crc >>= 1;
            if low_bit_set {
                crc ^= 0xEDB8_8320;
            }
        }
    }
    !crc
}

/// The CRC, for tests elsewhere in the gate that build PNG headers by hand.
#[cfg(test)]
pub(super) fn crc32_for_tests(bytes: &[u8]) -> u32 {
    crc32(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_head(width: u32, height: u32, depth: u8, color: u8) -> Vec<u8> {
        let mut chunk = b"IHDR".to_vec();
        chunk.extend(width.to_be_bytes());
        chunk.extend(height.to_be_bytes());
        chunk.extend([depth, color, 0, 0, 0]);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        out.extend(13u32.to_be_bytes());
        out.extend(&chunk);
        out.extend(crc32(&chunk).to_be_bytes());
        out
    }

    #[test]
    fn crc_matches_the_check_value() {
        // The standard check value of CRC-32 over "123456789".
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn reads_ihdr() {
        assert_eq!(
            dimensions(&png_head(640, 480, 8, 2)),
            Ok(Dimensions {
                width: 640,
                height: 480
            })
        );
        assert_eq!(dimensions(&png_head(1, 1, 1, 3)).map(|d| d.width), Ok(1));
    }

    #[test]
    fn asks_for_the_chunk_head_then_the_whole_ihdr() {
        let png = png_head(640, 480, 8, 6);
        assert_eq!(dimensions(&png[..9]), Err(Stop::Need(16)));
        assert_eq!(dimensions(&png[..16]), Err(Stop::Need(33)));
        assert_eq!(dimensions(&png[..32]), Err(Stop::Need(33)));
    }

    #[test]
    fn malformed_ihdrs_are_corrupt() {
        let mut wrong_length = png_head(640, 480, 8, 2);
        wrong_length[11] = 12;
        let mut wrong_crc = png_head(640, 480, 8, 2);
        wrong_crc[32] ^= 1;
        let mut not_ihdr = png_head(640, 480, 8, 2);
        not_ihdr[12..16].copy_from_slice(b"IDAT");
        for bad in [
            wrong_length,
            wrong_crc,
            not_ihdr,
            png_head(0, 480, 8, 2),
            png_head(640, 0, 8, 2),
            png_head(1 << 31, 480, 8, 2),
            png_head(640, 480, 16, 3),
            png_head(640, 480, 4, 2),
            png_head(640, 480, 8, 5),
        ] {
            assert_eq!(dimensions(&bad), Err(Stop::Corrupt), "{bad:?}");
        }
    }
}
