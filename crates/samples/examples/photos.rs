//! Writes photo-like JPEGs for benchmarks: `photos DIR [WxH@Q ...]`, by default one each of
//! 1.2, 3.1, 6 and 12 MP at the qualities phones and cameras use. `scripts/bench-sanitize`
//! runs it.

use std::path::PathBuf;

// A benchmark helper: a bad argument is reported by panicking.
#[allow(clippy::unwrap_used)]
fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("usage: photos DIR [WxH@Q ...]"));
    let mut specs: Vec<String> = args.collect();
    if specs.is_empty() {
        specs = [
            "1280x960@75",
            "2048x1536@85",
            "3000x2000@80",
            "4000x3000@90",
        ]
        .map(String::from)
        .to_vec();
    }
    std::fs::create_dir_all(&dir).unwrap();
    for (seed, spec) in specs.iter().enumerate() {
        let (sides, quality) = spec.split_once('@').expect("WxH@Q");
        let (width, height) = sides.split_once('x').expect("WxH@Q");
        let (width, height): (u16, u16) = (width.parse().unwrap(), height.parse().unwrap());
        let quality: u8 = quality.parse().unwrap();
        let bytes = vetted_samples::photo::jpeg(width, height, quality, seed as u64 + 1);
        let path = dir.join(format!("photo-{width}x{height}-q{quality}.jpg"));
        std::fs::write(&path, &bytes).unwrap();
        println!("{} {} bytes", path.display(), bytes.len());
    }
}
