//! Byte-level surgery: PNG chunks written by hand, a JPEG's frame size rewritten, CRC-32.
//! These make the files no encoder would write (impossible sizes, broken headers).

/// CRC-32 as PNG and ZIP define it (reflected, polynomial 0xEDB88320).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

pub const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// One PNG chunk: length, type, data, CRC over type and data.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let len = u32::try_from(data.len()).expect("a PNG chunk holds less than 4 GiB");
    let mut out = len.to_be_bytes().to_vec();
    out.extend(kind);
    out.extend(data);
    out.extend(crc32(&out[4..]).to_be_bytes());
    out
}

/// IHDR data: width, height, bit depth, colour type, then compression, filter, interlace 0.
pub fn ihdr_data(width: u32, height: u32, bit_depth: u8, color_type: u8) -> Vec<u8> {
    let mut data = width.to_be_bytes().to_vec();
    data.extend(height.to_be_bytes());
    data.extend([bit_depth, color_type, 0, 0, 0]);
    data
}

/// A PNG that is only a header: signature, IHDR, IEND, and no image data. Enough for the gate,
/// which reads nothing past IHDR; a decoder refuses it. Used for sizes too big to encode.
pub fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut out = PNG_SIGNATURE.to_vec();
    out.extend(png_chunk(b"IHDR", &ihdr_data(width, height, 8, 2)));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

/// Where the first frame header (SOFn) of a JPEG starts, found by walking the segments.
pub fn jpeg_frame_header_offset(jpeg: &[u8]) -> Option<usize> {
    let mut pos = 2;
    while pos + 4 <= jpeg.len() && jpeg[pos] == 0xFF {
        let code = jpeg[pos + 1];
        let is_frame = (0xC0..=0xCF).contains(&code) && !matches!(code, 0xC4 | 0xC8 | 0xCC);
        if is_frame {
            return Some(pos);
        }
        pos += 2 + usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
    }
    None
}

/// Rewrites the size in a JPEG's first frame header; the pixel data stays as it was, so the
/// result is a header that lies.
pub fn set_jpeg_frame_size(jpeg: &mut [u8], width: u16, height: u16) {
    let sof = jpeg_frame_header_offset(jpeg).expect("the encoder wrote a frame header");
    jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
}

/// A JPEG segment: marker, length, data.
pub fn jpeg_segment(code: u8, data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(data.len() + 2).expect("a JPEG segment holds less than 64 KiB");
    let mut out = vec![0xFF, code];
    out.extend(len.to_be_bytes());
    out.extend(data);
    out
}

/// Inserts `bytes` right after a JPEG's SOI.
pub fn insert_after_soi(jpeg: &[u8], bytes: &[u8]) -> Vec<u8> {
    insert_at(jpeg, 2, bytes)
}

/// Inserts `bytes` just before a JPEG's first frame header.
pub fn insert_before_frame_header(jpeg: &[u8], bytes: &[u8]) -> Vec<u8> {
    let sof = jpeg_frame_header_offset(jpeg).expect("the encoder wrote a frame header");
    insert_at(jpeg, sof, bytes)
}

fn insert_at(file: &[u8], at: usize, bytes: &[u8]) -> Vec<u8> {
    let mut out = file[..at].to_vec();
    out.extend(bytes);
    out.extend(&file[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        // IEND's CRC, as every PNG ends.
        assert_eq!(png_chunk(b"IEND", &[])[8..], [0xAE, 0x42, 0x60, 0x82]);
    }
}
