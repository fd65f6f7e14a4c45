//! WebP: the dimensions from the first chunk, which must be VP8 (lossy), VP8L (lossless) or
//! VP8X (extended: animation, alpha, metadata; it holds the canvas size).

use super::{Dimensions, Header, Stop, take};

/// "RIFF", size, "WEBP", then the first chunk's FourCC and size.
const FIRST_CHUNK_DATA: usize = 20;
/// The three bytes after a lossy key frame's frame tag.
const VP8_START_CODE: [u8; 3] = [0x9D, 0x01, 0x2A];
/// The first byte of a lossless bitstream.
const VP8L_SIGNATURE: u8 = 0x2F;

pub(super) fn dimensions(buf: &[u8]) -> Header {
    let head = take(buf, 0, FIRST_CHUNK_DATA)?;
    let riff_size = le32(&head[4..8]);
    let fourcc = &head[12..16];
    let chunk_size = le32(&head[16..20]);
    // The RIFF payload holds "WEBP" and at least the whole first chunk.
    if u64::from(chunk_size) + 12 > u64::from(riff_size) {
        return Err(Stop::Corrupt);
    }
    let (width, height) = match fourcc {
        b"VP8 " => lossy(buf, chunk_size)?,
        b"VP8L" => lossless(buf, chunk_size)?,
        b"VP8X" => extended(buf, chunk_size)?,
        _ => return Err(Stop::Corrupt),
    };
    if width == 0 || height == 0 {
        return Err(Stop::Corrupt);
    }
    Ok(Dimensions { width, height })
}

/// Frame tag (3), start code (3), then 14 bits of width and of height, each followed by 2
/// bits of upscaling that do not change the stored size.
fn lossy(buf: &[u8], chunk_size: u32) -> Result<(u32, u32), Stop> {
    if chunk_size < 10 {
        return Err(Stop::Corrupt);
    }
    let frame = take(buf, FIRST_CHUNK_DATA, 10)?;
    let is_key_frame = frame[0] & 1 == 0;
    if !is_key_frame || frame[3..6] != VP8_START_CODE {
        return Err(Stop::Corrupt);
    }
    let width = u16::from_le_bytes([frame[6], frame[7]]) & 0x3FFF;
    let height = u16::from_le_bytes([frame[8], frame[9]]) & 0x3FFF;
    Ok((u32::from(width), u32::from(height)))
}

/// Signature (1), then 14 bits of width - 1, 14 of height - 1, 1 alpha hint, 3 of version.
fn lossless(buf: &[u8], chunk_size: u32) -> Result<(u32, u32), Stop> {
    if chunk_size < 5 {
        return Err(Stop::Corrupt);
    }
    let bits = take(buf, FIRST_CHUNK_DATA, 5)?;
    let fields = le32(&bits[1..5]);
    if bits[0] != VP8L_SIGNATURE || fields >> 29 != 0 {
        return Err(Stop::Corrupt);
    }
    Ok(((fields & 0x3FFF) + 1, ((fields >> 14) & 0x3FFF) + 1))
}

/// Flags (1), reserved (3), then 24 bits of canvas width - 1 and of canvas height - 1.
fn extended(buf: &[u8], chunk_size: u32) -> Result<(u32, u32), Stop> {
    if chunk_size < 10 {
        return Err(Stop::Corrupt);
    }
    let data = take(buf, FIRST_CHUNK_DATA, 10)?;
    let width = le32(&[data[4], data[5], data[6], 0]) + 1;
    let height = le32(&[data[7], data[8], data[9], 0]) + 1;
    Ok((width, height))
}

fn le32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webp(fourcc: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let size = u32::try_from(data.len()).unwrap();
        let mut out = b"RIFF".to_vec();
        out.extend((size + 12).to_le_bytes());
        out.extend(b"WEBP");
        out.extend(fourcc);
        out.extend(size.to_le_bytes());
        out.extend(data);
        out
    }

    fn lossy_frame(width: u16, height: u16) -> Vec<u8> {
        let mut data = vec![0x50, 0x02, 0x00, 0x9D, 0x01, 0x2A];
        data.extend(width.to_le_bytes());
        data.extend(height.to_le_bytes());
        data
    }

    fn dims(width: u32, height: u32) -> Header {
        Ok(Dimensions { width, height })
    }

    #[test]
    fn reads_all_three_kinds() {
        assert_eq!(
            dimensions(&webp(b"VP8 ", &lossy_frame(640, 480))),
            dims(640, 480)
        );
        // Upscaling bits are not part of the size.
        let scaled = lossy_frame(640 | 0x4000, 480 | 0x8000);
        assert_eq!(dimensions(&webp(b"VP8 ", &scaled)), dims(640, 480));

        let fields: u32 = 639 | (479 << 14) | (1 << 28);
        let mut lossless = vec![VP8L_SIGNATURE];
        lossless.extend(fields.to_le_bytes());
        assert_eq!(dimensions(&webp(b"VP8L", &lossless)), dims(640, 480));

        let mut extended = vec![0x10, 0, 0, 0];
        extended.extend(&(16_383u32 - 1).to_le_bytes()[..3]);
        extended.extend(&(70_000u32 - 1).to_le_bytes()[..3]);
        assert_eq!(dimensions(&webp(b"VP8X", &extended)), dims(16_383, 70_000));
    }

    #[test]
    fn asks_for_the_chunk_head_then_its_data() {
        let file = webp(b"VP8 ", &lossy_frame(640, 480));
        assert_eq!(dimensions(&file[..12]), Err(Stop::Need(20)));
        assert_eq!(dimensions(&file[..25]), Err(Stop::Need(30)));
        let mut lossless = vec![VP8L_SIGNATURE];
        lossless.extend(0u32.to_le_bytes());
        assert_eq!(
            dimensions(&webp(b"VP8L", &lossless)[..21]),
            Err(Stop::Need(25))
        );
    }

    #[test]
    fn malformed_headers_are_corrupt() {
        let mut not_key_frame = lossy_frame(640, 480);
        not_key_frame[0] |= 1;
        let mut bad_start_code = lossy_frame(640, 480);
        bad_start_code[4] = 0;
        let mut riff_too_small = webp(b"VP8 ", &lossy_frame(640, 480));
        riff_too_small[4] = 12;
        let mut bad_version = vec![VP8L_SIGNATURE];
        bad_version.extend((1u32 << 29).to_le_bytes());
        for bad in [
            webp(b"VP8 ", &not_key_frame),
            webp(b"VP8 ", &bad_start_code),
            webp(b"VP8 ", &lossy_frame(0, 480)),
            webp(b"VP8 ", &lossy_frame(640, 0x4000)),
            webp(b"VP8L", &[0x2E, 0, 0, 0, 0]),
            webp(b"VP8L", &bad_version),
            webp(b"VP8X", &[0; 9]),
            webp(b"ALPH", &[0; 10]),
            riff_too_small,
        ] {
            assert_eq!(dimensions(&bad), Err(Stop::Corrupt), "{bad:?}");
        }
    }
}
