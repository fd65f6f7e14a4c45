//! Photo-like images: a sky, hills, textured ground and sensor grain, made from fractal value
//! noise. Encoders compress these as they compress real photos (flat colour and test
//! patterns compress far better, and would make size and speed figures meaningless). Also
//! the files that carry them: JPEGs at a chosen quality, with or without a colour profile,
//! lossy WebP through libwebp, and a PNG whose colour profile is a deflate bomb.

use std::io::Write;

use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

/// A deterministic hash of a lattice point to 0..=255.
fn hash(x: i64, y: i64, seed: u64) -> u32 {
    let mut h = (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ seed.wrapping_mul(0x1656_67B1_9E37_79F9);
    h ^= h >> 29;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 32;
    (h & 0xFF) as u32
}

/// Smoothly interpolated lattice noise at a scale of `cell` pixels, in 0.0..=255.0.
fn value_noise(x: u32, y: u32, cell: u32, seed: u64) -> f32 {
    let (cx, cy) = (i64::from(x / cell), i64::from(y / cell));
    let fx = (x % cell) as f32 / cell as f32;
    let fy = (y % cell) as f32 / cell as f32;
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let at = |dx: i64, dy: i64| hash(cx + dx, cy + dy, seed) as f32;
    let top = at(0, 0) + (at(1, 0) - at(0, 0)) * sx;
    let bottom = at(0, 1) + (at(1, 1) - at(0, 1)) * sx;
    top + (bottom - top) * sy
}

/// Several octaves, coarse to fine, each half as strong.
fn fractal(x: u32, y: u32, base_cell: u32, octaves: u32, seed: u64) -> f32 {
    let (mut sum, mut weight, mut total) = (0.0, 1.0, 0.0);
    let mut cell = base_cell.max(2);
    for octave in 0..octaves {
        sum += value_noise(x, y, cell, seed + u64::from(octave)) * weight;
        total += weight;
        weight *= 0.5;
        cell = (cell / 2).max(2);
    }
    sum / total
}

/// Interleaved 8-bit RGB pixels of a landscape, `width × height`, different for each seed.
pub fn rgb(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let scale = width.max(height).max(64);
    let mut out = Vec::with_capacity(width as usize * height as usize * 3);
    let horizon: Vec<f32> = (0..width)
        .map(|x| {
            let ridge = fractal(x, 0, scale / 3, 5, seed ^ 0xA5) / 255.0;
            height as f32 * (0.35 + 0.3 * ridge)
        })
        .collect();
    for y in 0..height {
        for x in 0..width {
            let grain = (hash(i64::from(x), i64::from(y), seed ^ 0x5EED) as f32 - 128.0) / 16.0;
            let texture = fractal(x, y, scale / 8, 6, seed);
            let (r, g, b) = if (y as f32) < horizon[x as usize] {
                // Sky: darker blue above, hazy near the horizon, with soft clouds.
                let t = y as f32 / horizon[x as usize];
                let cloud = ((texture - 140.0) * 2.0).clamp(0.0, 255.0);
                (
                    60.0 + 120.0 * t + cloud * 0.6,
                    110.0 + 100.0 * t + cloud * 0.55,
                    200.0 + 40.0 * t + cloud * 0.2,
                )
            } else {
                // Ground: greens and browns with fine detail.
                let detail = fractal(x, y, 12, 3, seed ^ 0xD7) - 128.0;
                let field = texture / 255.0;
                (
                    50.0 + 110.0 * field + detail * 0.5,
                    70.0 + 90.0 * (1.0 - field) + detail * 0.6,
                    30.0 + 40.0 * field + detail * 0.3,
                )
            };
            // Sensor noise: mostly shared by the channels, partly each its own (chroma noise).
            let own =
                |c: i64| (hash(i64::from(x) * 3 + c, i64::from(y), seed) as f32 - 128.0) / 32.0;
            out.extend(
                [r + own(0), g + own(1), b + own(2)].map(|c| (c + grain).clamp(0.0, 255.0) as u8),
            );
        }
    }
    out
}

/// A baseline 4:2:0 JPEG of [`rgb`] at `quality`, as cameras and libjpeg write them.
pub fn jpeg(width: u16, height: u16, quality: u8, seed: u64) -> Vec<u8> {
    jpeg_with_profile(width, height, quality, seed, None)
}

/// The same, with an ICC profile in APP2 segments (the pixels are the same values; the
/// profile says what colours they mean).
pub fn jpeg_with_profile(
    width: u16,
    height: u16,
    quality: u8,
    seed: u64,
    icc: Option<&[u8]>,
) -> Vec<u8> {
    let pixels = rgb(width.into(), height.into(), seed);
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, quality);
    encoder.set_sampling_factor(SamplingFactor::F_2_2);
    if let Some(icc) = icc {
        encoder
            .add_icc_profile(icc)
            .expect("a profile under 16 MiB");
    }
    encoder
        .encode(&pixels, width, height, ColorType::Rgb)
        .expect("JPEG encoded to memory");
    out
}

/// A lossy WebP of [`rgb`] made by libwebp at `quality`, as `cwebp -q` makes them.
pub fn webp_lossy(width: u32, height: u32, quality: f32, seed: u64) -> Vec<u8> {
    let pixels = rgb(width, height, seed);
    webp::Encoder::from_rgb(&pixels, width, height)
        .encode_simple(false, quality)
        .expect("libwebp encodes an RGB image")
        .to_vec()
}

/// An indexed PNG of noise over a 256-colour palette: one byte a pixel as uploaded, three
/// once decoded to RGB, and noise does not compress, so any lossless copy is about three
/// times the upload.
pub fn png_palette_noise(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_palette(
        (0..=255u8)
            .flat_map(|i| [i, i.wrapping_mul(37), i.wrapping_mul(101)])
            .collect::<Vec<_>>(),
    );
    let noise: Vec<u8> = (0..u64::from(width) * u64::from(height))
        .map(|i| hash(i as i64, 0, 0x2545_F491) as u8)
        .collect();
    let mut writer = encoder.write_header().expect("a valid PNG header");
    writer
        .write_image_data(&noise)
        .expect("pixels match the header");
    writer.finish().expect("PNG written to memory");
    out
}

/// An RGB PNG with an `iCCP` chunk whose zlib stream inflates to `inflated` bytes of zeros:
/// small on disk (deflate packs zeros about 1000 to 1), huge once inflated.
pub fn png_with_iccp_bomb(width: u32, height: u32, inflated: u64) -> Vec<u8> {
    let mut data = b"bomb\0\0".to_vec();
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    let mut left = inflated;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        zlib.write_all(&zeros[..n]).expect("deflate into memory");
        left -= n as u64;
    }
    data.extend(zlib.finish().expect("deflate into memory"));
    let png = crate::images::png(width, height);
    // The signature and IHDR (8 + 25 bytes) come first; iCCP must precede the image data.
    let mut out = png[..33].to_vec();
    out.extend(crate::raw::png_chunk(b"iCCP", &data));
    out.extend(&png[33..]);
    out
}
