//! A large JPEG encoded on two threads: the top and bottom halves are encoded separately,
//! with a restart marker after every row of MCUs, and spliced into one file.
//!
//! Restart markers (`RST0`–`RST7`, cycling) reset the entropy coder's DC predictions, so each
//! interval decodes on its own; with an interval of one MCU row, the bottom half's scan is
//! exactly what one encoder would have written after the top half's, once its markers are
//! renumbered to continue the top's cycle. The result is byte for byte the single-threaded
//! encoding with the same restart interval (the tests check that). It halves the wall time
//! of the encode, the sanitizer's largest step, and costs about two bytes a row.

use jpeg_encoder::{ColorType, Encoder, EncodingError};

/// Sets quality, sampling and the profile on an encoder; called once for each half.
pub type Configure<'a> =
    dyn Fn(&mut Encoder<&mut Vec<u8>>) -> Result<(), EncodingError> + Sync + 'a;

/// Images with fewer pixels are encoded on one thread: not worth a thread.
pub const MIN_PIXELS: u64 = 1_000_000;

/// Encodes `raw` (`width × height`, `color` with `bytes_per_pixel`) as one JPEG with a
/// restart marker after each MCU row, splitting the work across two threads. `mcu` is the
/// MCU's size in pixels (16 × 16 for 4:2:0, 8 × 8 for grey or 4:4:4); `configure` sets
/// everything else (quality, sampling, profile) on each half's encoder alike.
pub fn encode(
    raw: &[u8],
    (width, height): (u16, u16),
    color: ColorType,
    bytes_per_pixel: usize,
    mcu: (u16, u16),
    configure: &Configure<'_>,
) -> Result<Vec<u8>, EncodingError> {
    let mcu_columns = width.div_ceil(mcu.0);
    let mcu_rows = height.div_ceil(mcu.1);
    let one = |raw: &[u8], rows_height: u16| {
        let mut out = Vec::with_capacity(raw.len() / 8);
        let mut encoder = Encoder::new(&mut out, 90);
        configure(&mut encoder)?;
        encoder.set_restart_interval(mcu_columns);
        encoder.encode(raw, width, rows_height, color)?;
        Ok::<_, EncodingError>(out)
    };
    if mcu_rows < 2 {
        return one(raw, height);
    }
    let top_rows = mcu_rows.div_ceil(2);
    let top_height = top_rows * mcu.1;
    let split = usize::from(top_height) * usize::from(width) * bytes_per_pixel;
    let (top_raw, bottom_raw) = raw.split_at(split.min(raw.len()));
    let malformed = || EncodingError::BadImageData {
        length: 0,
        required: 0,
    };
    let (top, bottom) = std::thread::scope(|scope| {
        let bottom = std::thread::Builder::new()
            .spawn_scoped(scope, || one(bottom_raw, height - top_height))
            .ok();
        let top = one(top_raw, top_height);
        // No second thread to be had: the bottom half on this one.
        let bottom = match bottom {
            Some(thread) => thread.join().unwrap_or_else(|_| Err(malformed())),
            None => one(bottom_raw, height - top_height),
        };
        (top, bottom)
    });
    let (mut top, bottom) = (top?, bottom?);
    let frame = segment(&top, &[0xC0, 0xC1]).ok_or_else(malformed)?;
    // SOF: length (2), precision (1), then the height.
    top.get_mut(frame + 3..frame + 5)
        .ok_or_else(malformed)?
        .copy_from_slice(&height.to_be_bytes());
    let bottom_scan = scan_data(&bottom).ok_or_else(malformed)?;
    if !top.ends_with(&[0xFF, 0xD9]) {
        return Err(malformed());
    }
    top.truncate(top.len() - 2);
    top.reserve(bottom_scan.len() + 4);
    // The top half wrote RST markers before its rows 1..top_rows; this one precedes the
    // bottom half's first row, and the bottom's own continue the cycle from there.
    top.extend_from_slice(&[0xFF, rst(top_rows - 1)]);
    let shift = top_rows;
    let mut bytes = bottom_scan.iter().copied().peekable();
    while let Some(byte) = bytes.next() {
        top.push(byte);
        if byte == 0xFF
            && let Some(&next) = bytes.peek()
            && (0xD0..=0xD7).contains(&next)
        {
            bytes.next();
            top.push(rst(u16::from(next - 0xD0) + shift));
        }
    }
    top.extend_from_slice(&[0xFF, 0xD9]);
    Ok(top)
}

fn rst(n: u16) -> u8 {
    0xD0 + (n % 8) as u8
}

/// Where the first marker segment of one of `kinds` starts (at its length field), walking
/// the segments from SOI.
fn segment(jpeg: &[u8], kinds: &[u8]) -> Option<usize> {
    let mut at = 2;
    loop {
        let (&0xFF, &marker) = (jpeg.get(at)?, jpeg.get(at + 1)?) else {
            return None;
        };
        if kinds.contains(&marker) {
            return Some(at + 2);
        }
        let len = u16::from_be_bytes([*jpeg.get(at + 2)?, *jpeg.get(at + 3)?]);
        at += 2 + usize::from(len);
    }
}

/// The entropy-coded data of the (only) scan: after the SOS header, before EOI.
fn scan_data(jpeg: &[u8]) -> Option<&[u8]> {
    let sos = segment(jpeg, &[0xDA])?;
    let len = usize::from(u16::from_be_bytes([*jpeg.get(sos)?, *jpeg.get(sos + 1)?]));
    jpeg.get(sos + len..jpeg.len().checked_sub(2)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpeg_encoder::SamplingFactor;

    fn pixels(width: u16, height: u16, channels: usize) -> Vec<u8> {
        (0..usize::from(width) * usize::from(height) * channels)
            .map(|i| ((i * 7919) ^ (i >> 5)) as u8)
            .collect()
    }

    fn single(
        raw: &[u8],
        sides: (u16, u16),
        color: ColorType,
        mcu: (u16, u16),
        sampling: Option<SamplingFactor>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = Encoder::new(&mut out, 90);
        encoder.set_quality(75);
        if let Some(sampling) = sampling {
            encoder.set_sampling_factor(sampling);
        }
        encoder.set_restart_interval(sides.0.div_ceil(mcu.0));
        encoder.encode(raw, sides.0, sides.1, color).unwrap();
        out
    }

    #[test]
    fn the_halves_spliced_are_the_single_threaded_encoding() {
        for (sides, sampling, mcu) in [
            ((333, 250), SamplingFactor::F_2_2, (16, 16)),
            ((320, 256), SamplingFactor::F_2_2, (16, 16)),
            ((200, 171), SamplingFactor::F_1_1, (8, 8)),
            ((130, 300), SamplingFactor::F_2_1, (16, 8)),
            ((50, 20), SamplingFactor::F_2_2, (16, 16)),
        ] {
            let raw = pixels(sides.0, sides.1, 3);
            let configure = |e: &mut Encoder<&mut Vec<u8>>| {
                e.set_quality(75);
                e.set_sampling_factor(sampling);
                Ok(())
            };
            let halves = encode(&raw, sides, ColorType::Rgb, 3, mcu, &configure).unwrap();
            assert!(
                halves == single(&raw, sides, ColorType::Rgb, mcu, Some(sampling)),
                "{sides:?} {sampling:?}"
            );
        }
        let grey = pixels(300, 200, 1);
        let configure = |e: &mut Encoder<&mut Vec<u8>>| {
            e.set_quality(75);
            Ok(())
        };
        let halves = encode(&grey, (300, 200), ColorType::Luma, 1, (8, 8), &configure).unwrap();
        assert!(halves == single(&grey, (300, 200), ColorType::Luma, (8, 8), None));
    }
}
