//! Colour profiles: found in the source, checked, and written again for the published copy.
//!
//! The published image keeps its colours by keeping its profile, not by converting pixels to
//! sRGB: a Display P3 photo stays P3 on the wide-gamut screens it was taken for, and no
//! pixel pass is added to the sanitizer's budget. But the uploader's profile bytes are never
//! copied: the profile is parsed (moxcms) and the parse is written out again, so only colour
//! data survives, not private tags or whatever else an uploader hid in the bytes. A profile
//! larger than [`MAX_PROFILE_BYTES`], one that does not parse or write, or one that does not
//! describe the published pixels (a CMYK profile on a JPEG decoded to RGB) is dropped and
//! logged; the image is never refused for it.
//!
//! PNG stores its profile deflated (`iCCP`), and an uploader controls how far it inflates: a
//! few megabytes can inflate to gigabytes. The PNG decoder would inflate it bounded only by
//! the whole decode's allocation cap, so the decoder never sees `iCCP` chunks
//! ([`PngWithoutProfile`] reads the file around them), and the profile is inflated here,
//! stopping at the cap.

use std::io::{self, BufRead, Read, Seek, SeekFrom};

use moxcms::{ColorProfile, DataColorSpace, LocalizableString, ProfileText};

/// The largest profile kept, before and after inflating. Matrix-and-curve profiles (sRGB,
/// Display P3, Adobe RGB) are well under 4 KiB; print and camera profiles with lookup tables
/// reach a few hundred KiB, and are rare on the web.
pub const MAX_PROFILE_BYTES: usize = 256 * 1024;

/// What became of the source's colour profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileFate {
    /// The source had none; the copy has none (browsers assume sRGB).
    Absent,
    /// Parsed and written again into the published copy.
    Kept,
    /// The source had one that was oversized, unreadable or not for these pixels.
    Dropped,
}

/// The profile a source carries, as found in the file, before any check.
pub enum Found {
    None,
    Bytes(Vec<u8>),
    /// Present, but refused before reading it (oversized, or a broken `iCCP`).
    Refused(&'static str),
}

/// Parses `raw` and writes it again, if it describes pixels with (or without) colour.
pub fn rewrite(found: Found, has_color: bool) -> (Option<Vec<u8>>, ProfileFate) {
    let raw = match found {
        Found::None => return (None, ProfileFate::Absent),
        Found::Refused(why) => return dropped(why),
        Found::Bytes(raw) => raw,
    };
    if raw.len() > MAX_PROFILE_BYTES {
        return dropped("larger than the cap");
    }
    let Ok(mut profile) = ColorProfile::new_from_slice(&raw) else {
        return dropped("does not parse");
    };
    let fits = match profile.color_space {
        DataColorSpace::Rgb => has_color,
        DataColorSpace::Gray => !has_color,
        _ => false,
    };
    if !fits {
        return dropped("is not for the published pixels' colour space");
    }
    // Names are text an uploader chose; colour management needs none of them, but some
    // readers want a description tag to be there.
    profile.description = Some(ProfileText::Localizable(vec![LocalizableString::new(
        "en".to_owned(),
        "US".to_owned(),
        "Colour profile of the uploaded image".to_owned(),
    )]));
    profile.copyright = None;
    profile.device_manufacturer = None;
    profile.device_model = None;
    profile.viewing_conditions_description = None;
    match profile.encode() {
        Ok(bytes) if bytes.len() <= MAX_PROFILE_BYTES => (Some(bytes), ProfileFate::Kept),
        Ok(_) => dropped("larger than the cap once written"),
        Err(_) => dropped("cannot be written again"),
    }
}

fn dropped(why: &'static str) -> (Option<Vec<u8>>, ProfileFate) {
    tracing::warn!(why, "colour profile dropped");
    (None, ProfileFate::Dropped)
}

/// A PNG file read around its `iCCP` chunks, without copying it: the decoder sees every
/// other chunk as it is. Also holds the first `iCCP` profile, inflated under the cap.
pub struct PngWithoutProfile<'a> {
    parts: Vec<&'a [u8]>,
    len: u64,
    pos: u64,
}

impl<'a> PngWithoutProfile<'a> {
    /// Splits `png` around its `iCCP` chunks (all of which precede the image data). A chunk
    /// structure that runs off the end leaves the rest as it is, for the decoder to refuse.
    pub fn new(png: &'a [u8]) -> (Self, Found) {
        let mut parts = Vec::new();
        let mut found = Found::None;
        let mut start = 0;
        let mut at = 8;
        while let Some(header) = png.get(at..at + 8) {
            let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let Some(end) = at.checked_add(12).and_then(|e| e.checked_add(len)) else {
                break;
            };
            if end > png.len() || &header[4..] == b"IDAT" {
                break;
            }
            if &header[4..] == b"iCCP" {
                if matches!(found, Found::None) {
                    found = inflate_iccp(&png[at + 8..at + 8 + len]);
                }
                parts.push(&png[start..at]);
                start = end;
            }
            at = end;
        }
        parts.push(&png[start..]);
        let len = parts.iter().map(|p| p.len() as u64).sum();
        (Self { parts, len, pos: 0 }, found)
    }

    fn locate(&self) -> Option<(usize, usize)> {
        let mut offset = self.pos;
        for (i, part) in self.parts.iter().enumerate() {
            let part_len = part.len() as u64;
            if offset < part_len {
                return Some((i, usize::try_from(offset).ok()?));
            }
            offset -= part_len;
        }
        None
    }
}

/// `iCCP`: a name of 1–79 bytes, a NUL, compression method 0, then a zlib stream.
fn inflate_iccp(chunk: &[u8]) -> Found {
    let Some(nul) = chunk.iter().take(80).position(|&b| b == 0) else {
        return Found::Refused("iCCP has no name");
    };
    let Some((&0, zlib)) = chunk[nul + 1..].split_first() else {
        return Found::Refused("iCCP has an unknown compression method");
    };
    match fdeflate::decompress_to_vec_bounded(zlib, MAX_PROFILE_BYTES) {
        Ok(profile) => Found::Bytes(profile),
        Err(fdeflate::BoundedDecompressionError::OutputTooLarge { .. }) => {
            Found::Refused("iCCP inflates past the cap")
        }
        Err(_) => Found::Refused("iCCP does not inflate"),
    }
}

impl Read for PngWithoutProfile<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for PngWithoutProfile<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(match self.locate() {
            Some((part, offset)) => &self.parts[part][offset..],
            None => &[],
        })
    }

    fn consume(&mut self, amount: usize) {
        self.pos = self.pos.saturating_add(amount as u64).min(self.len);
    }
}

impl Seek for PngWithoutProfile<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(n) => {
                self.pos = n.min(self.len);
                Ok(self.pos)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_skips_exactly_the_profile_chunks() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let chunk = |kind: &[u8], body: &[u8]| {
            let mut c = (body.len() as u32).to_be_bytes().to_vec();
            c.extend_from_slice(kind);
            c.extend_from_slice(body);
            c.extend_from_slice(&[0; 4]);
            c
        };
        png.extend(chunk(b"IHDR", &[1; 13]));
        png.extend(chunk(b"iCCP", b"x\0\0not zlib"));
        png.extend(chunk(b"IDAT", b"pixels"));
        let (mut reader, found) = PngWithoutProfile::new(&png);
        assert!(matches!(found, Found::Refused(_)));
        let mut seen = Vec::new();
        reader.read_to_end(&mut seen).unwrap();
        let mut want = b"\x89PNG\r\n\x1a\n".to_vec();
        want.extend(chunk(b"IHDR", &[1; 13]));
        want.extend(chunk(b"IDAT", b"pixels"));
        assert_eq!(seen, want);
        reader.seek(SeekFrom::Start(8)).unwrap();
        let mut four = [0; 4];
        reader.read_exact(&mut four).unwrap();
        assert_eq!(four, 13u32.to_be_bytes());
    }
}
