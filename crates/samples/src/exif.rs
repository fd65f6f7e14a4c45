//! EXIF blocks built by hand (a little-endian TIFF structure): GPS coordinates, a thumbnail
//! whose frame header lies, or plain bulk. The bytes returned go after `Exif\0\0` in APP1, or
//! into a WebP's EXIF chunk as they are.

/// One IFD entry's value.
#[derive(Debug, Clone)]
pub enum Value {
    Byte(Vec<u8>),
    /// Written with the terminating NUL the format wants.
    Ascii(String),
    Short(u16),
    Long(u32),
    Rational(Vec<(u32, u32)>),
    Undefined(Vec<u8>),
    /// A sub-IFD (EXIF, GPS), pointed to by a LONG offset.
    Ifd(Ifd),
    /// Bytes stored out of line, pointed to by a LONG offset (a thumbnail's JPEG).
    Blob(Vec<u8>),
}

/// An image file directory: tags and their values, written in ascending tag order.
#[derive(Debug, Clone, Default)]
pub struct Ifd(pub Vec<(u16, Value)>);

pub mod tag {
    pub const COMPRESSION: u16 = 0x0103;
    pub const MAKE: u16 = 0x010F;
    pub const MODEL: u16 = 0x0110;
    pub const ORIENTATION: u16 = 0x0112;
    pub const THUMBNAIL_OFFSET: u16 = 0x0201;
    pub const THUMBNAIL_LENGTH: u16 = 0x0202;
    pub const EXIF_IFD: u16 = 0x8769;
    pub const GPS_IFD: u16 = 0x8825;
    pub const EXIF_VERSION: u16 = 0x9000;
    pub const MAKER_NOTE: u16 = 0x927C;
    pub const GPS_VERSION: u16 = 0x0000;
    pub const GPS_LATITUDE_REF: u16 = 0x0001;
    pub const GPS_LATITUDE: u16 = 0x0002;
    pub const GPS_LONGITUDE_REF: u16 = 0x0003;
    pub const GPS_LONGITUDE: u16 = 0x0004;
}

/// A TIFF structure holding IFD0 and, if given, IFD1 (where EXIF keeps the thumbnail).
pub fn tiff(ifd0: &Ifd, ifd1: Option<&Ifd>) -> Vec<u8> {
    let mut out = b"II*\0".to_vec();
    out.extend(8u32.to_le_bytes());
    let next = write_ifd(&mut out, ifd0);
    if let Some(ifd1) = ifd1 {
        let at = align(&mut out);
        patch_u32(&mut out, next, at);
        write_ifd(&mut out, ifd1);
    }
    out
}

/// A camera's usual EXIF: make, model, and a GPS position in degrees (negative is south or west).
pub fn with_gps(latitude: f64, longitude: f64) -> Vec<u8> {
    let gps = Ifd(vec![
        (tag::GPS_VERSION, Value::Byte(vec![2, 3, 0, 0])),
        (
            tag::GPS_LATITUDE_REF,
            ascii(if latitude < 0.0 { "S" } else { "N" }),
        ),
        (tag::GPS_LATITUDE, Value::Rational(degrees(latitude))),
        (
            tag::GPS_LONGITUDE_REF,
            ascii(if longitude < 0.0 { "W" } else { "E" }),
        ),
        (tag::GPS_LONGITUDE, Value::Rational(degrees(longitude))),
    ]);
    tiff(&camera(vec![(tag::GPS_IFD, Value::Ifd(gps))]), None)
}

/// EXIF whose IFD1 carries `thumbnail` as its JPEG thumbnail.
pub fn with_thumbnail(thumbnail: Vec<u8>) -> Vec<u8> {
    let len = u32::try_from(thumbnail.len()).expect("a thumbnail fits in EXIF");
    let ifd1 = Ifd(vec![
        (tag::COMPRESSION, Value::Short(6)),
        (tag::THUMBNAIL_OFFSET, Value::Blob(thumbnail)),
        (tag::THUMBNAIL_LENGTH, Value::Long(len)),
    ]);
    tiff(&camera(vec![]), Some(&ifd1))
}

/// EXIF of exactly `len` bytes, most of them a maker note, as some cameras write.
pub fn of_len(len: usize) -> Vec<u8> {
    let build = |note_len: usize| {
        let exif_ifd = Ifd(vec![
            (tag::EXIF_VERSION, Value::Undefined(b"0232".to_vec())),
            (tag::MAKER_NOTE, Value::Undefined(vec![0x4D; note_len])),
        ]);
        tiff(&camera(vec![(tag::EXIF_IFD, Value::Ifd(exif_ifd))]), None)
    };
    // The maker note is the last thing written, so the size grows one for one with it.
    let base = build(8).len() - 8;
    let out = build(len.checked_sub(base).expect("room for the EXIF structure"));
    assert_eq!(out.len(), len);
    out
}

fn camera(mut extra: Vec<(u16, Value)>) -> Ifd {
    let mut entries = vec![
        (tag::MAKE, ascii("Vetted Samples")),
        (tag::MODEL, ascii("Generator 1")),
        (tag::ORIENTATION, Value::Short(1)),
    ];
    entries.append(&mut extra);
    Ifd(entries)
}

fn ascii(text: &str) -> Value {
    Value::Ascii(text.to_owned())
}

/// Degrees, minutes and seconds (to a hundredth) as EXIF rationals.
fn degrees(value: f64) -> Vec<(u32, u32)> {
    let value = value.abs();
    let whole = value.trunc();
    let minutes = ((value - whole) * 60.0).trunc();
    let seconds = ((value - whole) * 60.0 - minutes) * 60.0;
    let (whole, minutes, hundredths) = (
        whole as u32,
        minutes as u32,
        (seconds * 100.0).round() as u32,
    );
    vec![(whole, 1), (minutes, 1), (hundredths, 100)]
}

/// Writes an IFD at the next even offset; returns where its next-IFD offset is.
fn write_ifd(out: &mut Vec<u8>, ifd: &Ifd) -> usize {
    let mut entries: Vec<&(u16, Value)> = ifd.0.iter().collect();
    entries.sort_by_key(|(tag, _)| *tag);
    align(out);
    let count = u16::try_from(entries.len()).expect("fewer than 65536 entries");
    out.extend(count.to_le_bytes());
    let table = out.len();
    out.resize(table + 12 * entries.len() + 4, 0);
    for (i, (tag, value)) in entries.into_iter().enumerate() {
        let entry = table + 12 * i;
        let (kind, count, inline) = encode(value);
        out[entry..entry + 2].copy_from_slice(&tag.to_le_bytes());
        out[entry + 2..entry + 4].copy_from_slice(&kind.to_le_bytes());
        out[entry + 4..entry + 8].copy_from_slice(&count.to_le_bytes());
        let field = entry + 8;
        match value {
            Value::Ifd(sub) => {
                let at = align(out);
                patch_u32(out, field, at);
                write_ifd(out, sub);
            }
            Value::Blob(bytes) => {
                let at = align(out);
                patch_u32(out, field, at);
                out.extend(bytes);
            }
            _ if inline.len() <= 4 => out[field..field + inline.len()].copy_from_slice(&inline),
            _ => {
                let at = align(out);
                patch_u32(out, field, at);
                out.extend(&inline);
            }
        }
    }
    table + 12 * ifd.0.len()
}

/// The TIFF type code, the count, and the value's bytes.
fn encode(value: &Value) -> (u16, u32, Vec<u8>) {
    let count = |n: usize| u32::try_from(n).expect("a count fits in 32 bits");
    match value {
        Value::Byte(b) => (1, count(b.len()), b.clone()),
        Value::Ascii(s) => {
            let mut b = s.as_bytes().to_vec();
            b.push(0);
            (2, count(b.len()), b)
        }
        Value::Short(v) => (3, 1, v.to_le_bytes().to_vec()),
        Value::Long(v) => (4, 1, v.to_le_bytes().to_vec()),
        Value::Rational(r) => {
            let b = r
                .iter()
                .flat_map(|(n, d)| [n.to_le_bytes(), d.to_le_bytes()].concat())
                .collect();
            (5, count(r.len()), b)
        }
        Value::Undefined(b) => (7, count(b.len()), b.clone()),
        Value::Ifd(_) => (4, 1, vec![]),
        // An offset to bytes is written as a LONG, as JPEGInterchangeFormat is.
        Value::Blob(_) => (4, 1, vec![]),
    }
}

/// Pads to an even offset, as TIFF wants for every offset; returns that offset.
fn align(out: &mut Vec<u8>) -> u32 {
    if out.len() % 2 == 1 {
        out.push(0);
    }
    u32::try_from(out.len()).expect("EXIF is smaller than 4 GiB")
}

fn patch_u32(out: &mut [u8], at: usize, value: u32) {
    out[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }
    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// Finds `tag` in the IFD at `ifd`; returns the entry's offset.
    fn entry(b: &[u8], ifd: usize, tag: u16) -> Option<usize> {
        (0..usize::from(u16_at(b, ifd)))
            .map(|i| ifd + 2 + 12 * i)
            .find(|&e| u16_at(b, e) == tag)
    }

    #[test]
    fn gps_is_reachable_from_ifd0_and_holds_the_position() {
        let b = with_gps(48.858_37, -2.294_48);
        assert_eq!(&b[..4], b"II*\0");
        let ifd0 = u32_at(&b, 4) as usize;
        let gps = u32_at(&b, entry(&b, ifd0, tag::GPS_IFD).unwrap() + 8) as usize;
        let lat_ref = entry(&b, gps, tag::GPS_LATITUDE_REF).unwrap();
        assert_eq!(&b[lat_ref + 8..lat_ref + 10], b"N\0");
        let lon_ref = entry(&b, gps, tag::GPS_LONGITUDE_REF).unwrap();
        assert_eq!(&b[lon_ref + 8..lon_ref + 10], b"W\0");
        let lat = u32_at(&b, entry(&b, gps, tag::GPS_LATITUDE).unwrap() + 8) as usize;
        let parts: Vec<u32> = (0..6).map(|i| u32_at(&b, lat + 4 * i)).collect();
        assert_eq!(parts, [48, 1, 51, 1, 3013, 100]);
    }

    #[test]
    fn the_thumbnail_is_where_ifd1_says() {
        let thumb = b"\xFF\xD8\xFF\xC0thumbnail\xFF\xD9".to_vec();
        let b = with_thumbnail(thumb.clone());
        let ifd0 = u32_at(&b, 4) as usize;
        let count = usize::from(u16_at(&b, ifd0));
        let ifd1 = u32_at(&b, ifd0 + 2 + 12 * count) as usize;
        let at = u32_at(&b, entry(&b, ifd1, tag::THUMBNAIL_OFFSET).unwrap() + 8) as usize;
        let len = u32_at(&b, entry(&b, ifd1, tag::THUMBNAIL_LENGTH).unwrap() + 8) as usize;
        assert_eq!(&b[at..at + len], thumb);
    }

    #[test]
    fn of_len_is_exact() {
        for len in [200, 201, 61_440] {
            assert_eq!(of_len(len).len(), len);
        }
    }
}
