//! JPEG: the dimensions from the first SOFn, found by walking the segments by their lengths.
//!
//! Walking by length, rather than scanning for the bytes `FF C0`, is what makes the gate
//! immune to a large EXIF block before the frame header and to a thumbnail inside EXIF, whose
//! own SOF would otherwise be taken for the image's.

use super::{Dimensions, Header, Stop, take};

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const TEM: u8 = 0x01;

pub(super) fn dimensions(buf: &[u8]) -> Header {
    // Just after SOI; the sniffer has checked `FF D8 FF`.
    let mut pos = 2;
    loop {
        // Every valid continuation has at least a marker and a length here, so a file that
        // ends sooner is cut short and a prefix that ends sooner needs these 4 bytes.
        let head = take(buf, pos, 4)?;
        if head[0] != 0xFF {
            return Err(Stop::Corrupt);
        }
        let code = head[1];
        match code {
            // A marker may be preceded by any number of 0xFF fill bytes.
            0xFF => {
                pos += 1;
                continue;
            }
            // Standalone markers carry no length and no data.
            TEM | 0xD0..=0xD7 => {
                pos += 2;
                continue;
            }
            // Scan data, a second image or the end before any frame header: nothing to measure.
            0x00 | SOI | EOI | SOS => return Err(Stop::Corrupt),
            _ => {}
        }
        let length = usize::from(u16::from_be_bytes([head[2], head[3]]));
        if length < 2 {
            return Err(Stop::Corrupt);
        }
        if is_start_of_frame(code) {
            return frame_dimensions(buf, pos, length);
        }
        pos += 2 + length;
    }
}

/// SOF0-SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
fn is_start_of_frame(code: u8) -> bool {
    matches!(code, 0xC0..=0xCF) && !matches!(code, 0xC4 | 0xC8 | 0xCC)
}

/// A frame header: marker (2), length (2), precision (1), height (2), width (2), component
/// count (1), then 3 bytes per component.
fn frame_dimensions(buf: &[u8], pos: usize, length: usize) -> Header {
    let frame = take(buf, pos, 10)?;
    let height = u16::from_be_bytes([frame[5], frame[6]]);
    let width = u16::from_be_bytes([frame[7], frame[8]]);
    let components = usize::from(frame[9]);
    // A height of 0 defers it to a DNL marker after the first scan, beyond any header read.
    if components == 0 || length != 8 + 3 * components || width == 0 || height == 0 {
        return Err(Stop::Corrupt);
    }
    Ok(Dimensions {
        width: u32::from(width),
        height: u32::from(height),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(code: u8, data: &[u8]) -> Vec<u8> {
        let mut out = vec![0xFF, code];
        out.extend(u16::try_from(data.len() + 2).unwrap().to_be_bytes());
        out.extend(data);
        out
    }

    fn sof(code: u8, width: u16, height: u16) -> Vec<u8> {
        let mut data = vec![8];
        data.extend(height.to_be_bytes());
        data.extend(width.to_be_bytes());
        data.extend([3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        segment(code, &data)
    }

    fn jpeg(parts: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![0xFF, SOI];
        for part in parts {
            out.extend(part);
        }
        out
    }

    const WANT: Header = Ok(Dimensions {
        width: 300,
        height: 200,
    });

    #[test]
    fn finds_every_kind_of_frame_header() {
        for code in [0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC7, 0xC9, 0xCB, 0xCD, 0xCF] {
            let file = jpeg(&[segment(0xE0, b"JFIF\0"), sof(code, 300, 200)]);
            assert_eq!(dimensions(&file), WANT, "{code:X}");
        }
    }

    #[test]
    fn skips_tables_fill_bytes_and_standalone_markers() {
        let file = jpeg(&[
            segment(0xDB, &[0; 65]),
            vec![0xFF, 0xFF, 0xFF],
            segment(0xC4, &[0; 30]),
            vec![0xFF, 0xD3],
            segment(0xCC, &[0; 4]),
            sof(0xC0, 300, 200),
        ]);
        assert_eq!(dimensions(&file), WANT);
    }

    #[test]
    fn a_frame_header_inside_a_segment_is_not_seen() {
        let mut exif = b"Exif\0\0".to_vec();
        exif.extend(jpeg(&[sof(0xC0, 9999, 9999)]));
        let file = jpeg(&[segment(0xE1, &exif), sof(0xC2, 300, 200)]);
        assert_eq!(dimensions(&file), WANT);
    }

    #[test]
    fn asks_for_exactly_the_next_segment_head() {
        let app = segment(0xE1, &[0; 1000]);
        let file = jpeg(&[app, sof(0xC0, 300, 200)]);
        assert_eq!(dimensions(&file[..3]), Err(Stop::Need(6)));
        assert_eq!(dimensions(&file[..6]), Err(Stop::Need(1006 + 4)));
        assert_eq!(dimensions(&file[..1010]), Err(Stop::Need(1006 + 10)));
        assert_eq!(dimensions(&file[..1016]), WANT);
    }

    #[test]
    fn malformed_streams_are_corrupt() {
        let mut bad_component_count = sof(0xC0, 300, 200);
        bad_component_count[9] = 2;
        for parts in [
            vec![segment(SOS, &[0; 10]), sof(0xC0, 300, 200)],
            vec![vec![0xFF, EOI, 0, 0]],
            vec![vec![0xFF, SOI, 0, 0]],
            vec![vec![0xFF, 0x00, 0, 0]],
            vec![vec![0x12, 0x34, 0, 4]],
            vec![vec![0xFF, 0xE0, 0, 1]],
            vec![sof(0xC0, 0, 200)],
            vec![sof(0xC0, 300, 0)],
            vec![bad_component_count],
        ] {
            assert_eq!(dimensions(&jpeg(&parts)), Err(Stop::Corrupt), "{parts:?}");
        }
    }
}
