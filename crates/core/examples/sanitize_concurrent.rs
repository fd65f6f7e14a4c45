//! Peak memory of several sanitizes at once under one memory budget, for BENCHMARKS.md:
//! generates COUNT images (by default PNGs whose iCCP profile inflates to 4 GiB), resets this
//! process's peak resident set, runs them all at once, each reserving its estimated need from a
//! budget of BUDGET_MIB before it starts, as the review worker does, and prints the peak.
//!
//! `cargo run --release -p vetted-core --example sanitize_concurrent -- 256 4 png-iccp-bomb 4000 3000`
//!
//! Run it again with a budget of 4096 to see the peak without the budget's effect.

use std::sync::Arc;
use std::time::Instant;

use vetted_core::ImageType;
use vetted_core::policy::Policy;
use vetted_core::review::sanitize::budget::{MemoryBudget, sanitize_estimate};
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

fn usage() -> ! {
    eprintln!(
        "usage: sanitize_concurrent BUDGET_MIB COUNT png-iccp-bomb|png|photo-jpeg WIDTH HEIGHT"
    );
    std::process::exit(2);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [budget_mib, count, format, width, height] = args.as_slice() else {
        usage();
    };
    let (Ok(budget_mib), Ok(count), Ok(width), Ok(height)) = (
        budget_mib.parse::<u64>(),
        count.parse::<usize>(),
        width.parse::<u32>(),
        height.parse::<u32>(),
    ) else {
        usage();
    };
    let make = |seed: u8| -> (ImageType, Vec<u8>) {
        match format.as_str() {
            "png-iccp-bomb" => (
                ImageType::Png,
                photo::png_with_iccp_bomb(width, height, 4 << 30),
            ),
            "png" => (ImageType::Png, images::png(width, height)),
            "photo-jpeg" => (
                ImageType::Jpeg,
                photo::jpeg(width as u16, height as u16, 85, u64::from(seed)),
            ),
            _ => usage(),
        }
    };
    let inputs: Vec<(ImageType, Arc<Vec<u8>>)> = (0..count)
        .map(|i| {
            let (image_type, bytes) = make(i as u8);
            (image_type, Arc::new(bytes))
        })
        .collect();
    let budget = MemoryBudget::new(budget_mib * 1024 * 1024);
    if std::fs::write("/proc/self/clear_refs", "5").is_err() {
        eprintln!("cannot reset the peak (not Linux?); the figure includes generating the images");
    }
    let before = peak_rss_kib();
    let started = Instant::now();
    let jobs = inputs.into_iter().map(|(image_type, bytes)| {
        let budget = budget.clone();
        tokio::spawn(async move {
            let need = sanitize_estimate(
                bytes.len() as u64,
                Some((width, height)),
                image_type,
                DEFAULT_MAX_DECODE_ALLOC,
            );
            let reservation = budget.reserve(need).await;
            let result = tokio::task::spawn_blocking(move || {
                sanitize(
                    &bytes,
                    image_type,
                    &Policy::default(),
                    DEFAULT_MAX_DECODE_ALLOC,
                )
            })
            .await
            .expect("sanitize does not panic");
            drop(reservation);
            (need, result)
        })
    });
    let mut outcomes = Vec::new();
    for job in jobs.collect::<Vec<_>>() {
        outcomes.push(job.await.expect("the job ran"));
    }
    let elapsed = started.elapsed();
    let after = peak_rss_kib();
    for (need, result) in &outcomes {
        match result {
            Ok(out) => println!(
                "  reserved {:.0} MiB; published {} KiB, profile {:?}",
                *need as f64 / 1048576.0,
                out.bytes.len() / 1024,
                out.profile
            ),
            Err(reason) => println!(
                "  reserved {:.0} MiB; refused with {reason}",
                *need as f64 / 1048576.0
            ),
        }
    }
    println!(
        "{count} × {format} {width}x{height} at once, budget {budget_mib} MiB: {:.0} ms; resident {:.1} MiB before, peak {:.1} MiB during ({:.1} MiB above the start)",
        elapsed.as_secs_f64() * 1000.0,
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        after.saturating_sub(before) as f64 / 1024.0,
    );
}
