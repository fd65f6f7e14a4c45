//! Peak memory of one sanitize, for BENCHMARKS.md: generates an image of the given format and
//! size, resets this process's peak resident set (writing 5 to /proc/self/clear_refs, so the
//! generator's own peak does not count), sanitizes it, and prints the resident set before and
//! the peak during. Run one process per case:
//!
//! `cargo run --release -p vetted-core --example sanitize_memory -- jpeg 4000 3000`

use std::time::Instant;

use vetted_core::ImageType;
use vetted_core::policy::Policy;
use vetted_core::review::sanitize::{DEFAULT_MAX_DECODE_ALLOC, sanitize};
use vetted_samples::{images, photo};

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [format, width, height] = args.as_slice() else {
        eprintln!(
            "usage: sanitize_memory jpeg|png|webp|photo-jpeg|webp-lossy|png-iccp-bomb WIDTH HEIGHT"
        );
        std::process::exit(2);
    };
    let (width, height): (u32, u32) = match (width.parse(), height.parse()) {
        (Ok(w), Ok(h)) => (w, h),
        _ => {
            eprintln!("WIDTH and HEIGHT must be numbers");
            std::process::exit(2);
        }
    };
    let (image_type, bytes) = match format.as_str() {
        "jpeg" => (ImageType::Jpeg, images::jpeg(width as u16, height as u16)),
        "png" => (ImageType::Png, images::png(width, height)),
        "webp" => (ImageType::Webp, images::webp_lossless(width, height)),
        "photo-jpeg" => (
            ImageType::Jpeg,
            photo::jpeg(width as u16, height as u16, 85, 1),
        ),
        "webp-lossy" => (ImageType::Webp, photo::webp_lossy(width, height, 75.0, 1)),
        // A PNG whose iCCP profile inflates to 4 GiB (about 4 MB on disk).
        "png-iccp-bomb" => (
            ImageType::Png,
            photo::png_with_iccp_bomb(width, height, 4 << 30),
        ),
        other => {
            eprintln!("unknown format {other}");
            std::process::exit(2);
        }
    };
    // Linux resets VmHWM to the current resident set on this write.
    if std::fs::write("/proc/self/clear_refs", "5").is_err() {
        eprintln!("cannot reset the peak (not Linux?); the figure includes generating the image");
    }
    let before = peak_rss_kib();
    let started = Instant::now();
    let result = sanitize(
        &bytes,
        image_type,
        &Policy::default(),
        DEFAULT_MAX_DECODE_ALLOC,
    );
    let elapsed = started.elapsed();
    let after = peak_rss_kib();
    let megapixels = f64::from(width) * f64::from(height) / 1e6;
    match result {
        Ok(out) => println!(
            "{format} {width}x{height} ({megapixels:.1} MP, {} KiB in, {} KiB out): {:.0} ms; resident {:.1} MiB before, peak {:.1} MiB during ({:.1} MiB per MP above the start)",
            bytes.len() / 1024,
            out.bytes.len() / 1024,
            elapsed.as_secs_f64() * 1000.0,
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            (after.saturating_sub(before)) as f64 / 1024.0 / megapixels,
        ),
        Err(reason) => println!("{format} {width}x{height}: refused with {reason}"),
    }
}
