//! What one JPEG's sanitize costs in a process that has already done one, against a fresh
//! process, and how much of it is the decode alone: the floor under issue 15's speed goal,
//! for BENCHMARKS.md. Generates a photo-like JPEG (`vetted_samples::photo`), then times, in
//! this one process, the median of ROUNDS rounds (default 7) of:
//!
//! - the decode as sanitize does it, into a fresh buffer each round (`image`, zune-jpeg);
//! - the same decode into one buffer kept from round to round, so its pages are already
//!   mapped (what a decoder could do with a pool);
//! - the whole `sanitize`, first call and the median of the later ones.
//!
//! `cargo run --release -p vetted-core --example sanitize_floor -- 4000 3000 90`

use std::time::{Duration, Instant};

use image::{ImageDecoder, ImageFormat, ImageReader};
use vetted_core::ImageType;
use vetted_core::policy::Policy;
use vetted_core::review::sanitize::{DEFAULT_MAX_DECODE_ALLOC, sanitize};
use vetted_samples::photo;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let [width, height, quality] = args.as_slice() else {
        eprintln!("usage: sanitize_floor WIDTH HEIGHT QUALITY   (ROUNDS=N, default 7)");
        std::process::exit(2);
    };
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let (Ok(w16), Ok(h16), Ok(q8)) = (
        u16::try_from(*width),
        u16::try_from(*height),
        u8::try_from(*quality),
    ) else {
        eprintln!("sides must fit in 16 bits and the quality in 8");
        std::process::exit(2);
    };
    let jpeg = photo::jpeg(w16, h16, q8, 1);
    let megapixels = f64::from(*width) * f64::from(*height) / 1e6;
    let decoder = || {
        let mut reader = ImageReader::new(std::io::Cursor::new(&jpeg));
        reader.set_format(ImageFormat::Jpeg);
        reader.into_decoder().expect("the generated JPEG decodes")
    };

    let fresh = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            let image = image::DynamicImage::from_decoder(decoder()).expect("decodes");
            let took = start.elapsed();
            drop(image);
            took
        })
        .collect();
    let mut kept = vec![0u8; usize::try_from(decoder().total_bytes()).expect("fits")];
    let warm = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            decoder().read_image(&mut kept).expect("decodes");
            start.elapsed()
        })
        .collect();
    let policy = Policy::default();
    let mut whole: Vec<Duration> = (0..=rounds)
        .map(|_| {
            let start = Instant::now();
            sanitize(&jpeg, ImageType::Jpeg, &policy, DEFAULT_MAX_DECODE_ALLOC)
                .expect("the generated JPEG sanitizes");
            start.elapsed()
        })
        .collect();
    let first = whole.remove(0);

    let row = |what: &str, took: Duration| {
        let ms = took.as_secs_f64() * 1e3;
        println!("| {what} | {ms:.1} | {:.2} |", ms / megapixels);
    };
    println!(
        "{width}x{height} q{quality} ({megapixels:.1} MP, {} bytes), median of {rounds} rounds",
        jpeg.len()
    );
    println!("| step | ms | ms/MP |\n|---|---:|---:|");
    row("decode into a fresh buffer", median(fresh));
    row("decode into a buffer kept between rounds", median(warm));
    row("sanitize, first call in the process", first);
    row("sanitize, later calls", median(whole));
}
