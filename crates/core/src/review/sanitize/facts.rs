//! What the source file says about how it was compressed, read from its bytes without
//! decoding: a JPEG's quality (from its quantization tables) and chroma subsampling, and
//! whether a WebP is lossy and at what quality (from its VP8 frame header).
//!
//! Re-encoding a lossy image at a higher quality than it was made with only spends bytes on
//! its artefacts, and at a much lower one loses detail; so the sanitizer encodes at the
//! quality the source was made with. Every reader here stops at the first thing it does not
//! understand and answers `None`: an unknown quality is no reason to refuse an image.

/// The IJG (libjpeg) luminance table at quality 50; every common encoder scales it.
const IJG_LUMA: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/// How a JPEG was compressed, as far as its headers tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JpegFacts {
    /// The IJG quality (1–100) whose luminance table is closest to the file's.
    pub quality: Option<u8>,
    /// The luminance component's sampling factors (2, 2 for 4:2:0), if the image has colour.
    pub luma_sampling: Option<(u8, u8)>,
}

/// Reads the quantization and frame headers of a JPEG, up to its first scan.
pub fn jpeg_facts(bytes: &[u8]) -> JpegFacts {
    let mut facts = JpegFacts::default();
    if bytes.get(..2) != Some(&[0xFF, 0xD8]) {
        return facts;
    }
    let mut at = 2;
    while let (Some(&0xFF), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) {
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        let Some(len) = be16(bytes, at + 2) else {
            break;
        };
        let Some(body) = bytes.get(at + 4..at + 2 + usize::from(len)) else {
            break;
        };
        match marker {
            0xDB => {
                if let Some(sum) = luma_table_sum(body) {
                    facts.quality = Some(closest_ijg_quality(sum));
                }
            }
            0xC0..=0xC2 => facts.luma_sampling = luma_sampling(body),
            0xDA | 0xD9 => break,
            _ => {}
        }
        at += 2 + usize::from(len);
    }
    facts
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

/// The sum of table 0 (luminance, by convention) in a DQT segment, which may hold several.
fn luma_table_sum(mut body: &[u8]) -> Option<u32> {
    while let Some((&pq_tq, rest)) = body.split_first() {
        let wide = pq_tq >> 4 == 1;
        let size = if wide { 128 } else { 64 };
        let table = rest.get(..size)?;
        if pq_tq & 0x0F == 0 {
            let sum = if wide {
                table
                    .chunks_exact(2)
                    .map(|v| u32::from(u16::from_be_bytes([v[0], v[1]])))
                    .sum()
            } else {
                table.iter().map(|&v| u32::from(v)).sum()
            };
            return Some(sum);
        }
        body = &rest[size..];
    }
    None
}

/// Sums do not depend on the zigzag order the file stores its table in, and a table of a
/// non-IJG encoder (a camera's) still gets the IJG quality of the same overall coarseness.
fn closest_ijg_quality(sum: u32) -> u8 {
    (1..=100u8)
        .min_by_key(|&q| ijg_luma_sum(q).abs_diff(sum))
        .unwrap_or(90)
}

fn ijg_luma_sum(quality: u8) -> u32 {
    let q = u32::from(quality);
    let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
    IJG_LUMA
        .iter()
        .map(|&v| ((u32::from(v) * scale + 50) / 100).clamp(1, 255))
        .sum()
}

fn luma_sampling(sof: &[u8]) -> Option<(u8, u8)> {
    // precision, height (2), width (2), component count, then (id, HV, table) per component.
    let components = *sof.get(5)?;
    if components < 3 {
        return None;
    }
    let hv = *sof.get(7)?;
    Some((hv >> 4, hv & 0x0F))
}

/// What a WebP holds, as far as its chunks tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WebpFacts {
    /// A `VP8 ` (lossy) bitstream, as opposed to `VP8L` (lossless).
    pub lossy: bool,
    /// The libwebp quality (0–100) its quantizers correspond to: the mean of its segments'
    /// quantizers when they are absolute (libwebp's default), else the base quantizer. It
    /// reads a few points low (71 for a file made at 75, 45 for 50, 90 for 90).
    pub quality: Option<u8>,
}

/// Walks a WebP's top-level chunks to its bitstream.
pub fn webp_facts(bytes: &[u8]) -> WebpFacts {
    let mut at = 12;
    while let Some(header) = bytes.get(at..at + 8) {
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let body = bytes.get(at + 8..).map(|b| &b[..size.min(b.len())]);
        match &header[..4] {
            b"VP8 " => {
                return WebpFacts {
                    lossy: true,
                    quality: body.and_then(vp8_base_quantizer).map(libwebp_quality),
                };
            }
            b"VP8L" => return WebpFacts::default(),
            _ => {}
        }
        at = at.saturating_add(8).saturating_add(size + (size & 1));
    }
    WebpFacts::default()
}

/// The base luma AC quantizer index (0–127) of a VP8 key frame: RFC 6386, sections 9.2–9.6.
fn vp8_base_quantizer(frame: &[u8]) -> Option<u8> {
    // Frame tag (3 bytes, bit 0 clear for a key frame), start code, then two 16-bit sides.
    if frame.first()? & 1 != 0 || frame.get(3..6)? != [0x9D, 0x01, 0x2A] {
        return None;
    }
    let mut bits = BoolDecoder::new(frame.get(10..)?)?;
    bits.literal(2)?; // colour space, clamping
    // libwebp writes each segment's quantizer as an absolute value, spread around the
    // quality's own by its spatial noise shaping; their mean is the quality's.
    let mut segments = None;
    if bits.flag()? {
        let update_map = bits.flag()?;
        if bits.flag()? {
            let absolute = bits.flag()?;
            let mut sum = 0i32;
            for _ in 0..4 {
                sum += bits.optional_signed(7)?.unwrap_or(0);
            }
            segments = absolute.then_some(sum / 4);
            for _ in 0..4 {
                bits.optional_signed(6)?;
            }
        }
        if update_map {
            for _ in 0..3 {
                if bits.flag()? {
                    bits.literal(8)?;
                }
            }
        }
    }
    bits.literal(1 + 6 + 3)?; // filter type, level, sharpness
    if bits.flag()? && bits.flag()? {
        for _ in 0..8 {
            bits.optional_signed(6)?;
        }
    }
    bits.literal(2)?; // partitions
    let base = bits.literal(7)?;
    match segments {
        Some(mean) => u8::try_from(mean.clamp(0, 127)).ok(),
        None => u8::try_from(base).ok(),
    }
}

/// Inverts libwebp's `QualityToCompression` (quant_enc.c): the quantizer index is
/// `127 × (1 − c)`, with `c³` linear in quality (two slopes, meeting at quality 75).
fn libwebp_quality(quantizer: u8) -> u8 {
    let c = 1.0 - f64::from(quantizer) / 127.0;
    let linear = c * c * c;
    let quality = if linear < 0.5 {
        linear * 1.5
    } else {
        (linear + 1.0) / 2.0
    };
    // In 0..=100 by construction.
    (quality * 100.0).round().clamp(0.0, 100.0) as u8
}

/// VP8's boolean entropy decoder, reading only probability-128 bits (the header's literals).
struct BoolDecoder<'a> {
    data: &'a [u8],
    at: usize,
    value: u32,
    range: u32,
    bit_count: u32,
}

impl<'a> BoolDecoder<'a> {
    fn new(data: &'a [u8]) -> Option<Self> {
        let value = u32::from(*data.first()?) << 8 | u32::from(*data.get(1)?);
        Some(Self {
            data,
            at: 2,
            value,
            range: 255,
            bit_count: 0,
        })
    }

    fn flag(&mut self) -> Option<bool> {
        let split = 1 + (((self.range - 1) * 128) >> 8);
        let big_split = split << 8;
        let bit = if self.value >= big_split {
            self.range -= split;
            self.value -= big_split;
            true
        } else {
            self.range = split;
            false
        };
        while self.range < 128 {
            self.value <<= 1;
            self.range <<= 1;
            self.bit_count += 1;
            if self.bit_count == 8 {
                self.bit_count = 0;
                // Past the end the stream reads as zeros, as libvpx does; the header is short.
                self.value |= u32::from(self.data.get(self.at).copied().unwrap_or(0));
                self.at += 1;
                if self.at > self.data.len() + 8 {
                    return None;
                }
            }
        }
        Some(bit)
    }

    fn literal(&mut self, n: u32) -> Option<u32> {
        let mut value = 0;
        for _ in 0..n {
            value = value << 1 | u32::from(self.flag()?);
        }
        Some(value)
    }

    /// A flag, then if set a magnitude of `n` bits and a sign: `Some(None)` when unset.
    fn optional_signed(&mut self, n: u32) -> Option<Option<i32>> {
        if !self.flag()? {
            return Some(None);
        }
        let magnitude = i32::try_from(self.literal(n)?).ok()?;
        Some(Some(if self.flag()? { -magnitude } else { magnitude }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ijg_tables_give_back_their_own_quality() {
        for q in [10, 50, 75, 85, 90, 95] {
            assert_eq!(closest_ijg_quality(ijg_luma_sum(q)), q);
        }
    }

    #[test]
    fn libwebp_quality_round_trips_its_own_mapping() {
        // quality 75 is quantizer 26 in libwebp; 90 is about 9.
        assert_eq!(libwebp_quality(26), 75);
        assert!((88..=92).contains(&libwebp_quality(9)));
        assert_eq!(libwebp_quality(127), 0);
        assert_eq!(libwebp_quality(0), 100);
    }

    #[test]
    fn garbage_has_no_facts() {
        assert_eq!(jpeg_facts(b"\xFF\xD8\xFF\xDB\x00"), JpegFacts::default());
        assert_eq!(jpeg_facts(&[]), JpegFacts::default());
        assert_eq!(webp_facts(b"RIFF\0\0\0\0WEBPVP8 "), WebpFacts::default());
        assert_eq!(
            webp_facts(b"RIFF\0\0\0\0WEBPVP8 \x20\0\0\0\x00\0\0\x9d\x01\x2a"),
            WebpFacts {
                lossy: true,
                quality: None
            }
        );
    }
}
