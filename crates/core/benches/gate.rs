//! Time per gate call, per format: `inspect` on the prefix the worker would read (up to
//! 64 KiB), and `run_gate` over an in-memory object for the worst case (60 KiB of EXIF).
//! Run: `cargo bench -p vetted-core --bench gate`. Bytes needed per case:
//! `cargo run -p vetted-core --example gate_bytes`.

use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use vetted_core::Policy;
use vetted_core::inspect::{inspect, run_gate};
use vetted_samples::sample;

const CASES: [(&str, &str); 10] = [
    ("png", "png_rgb"),
    ("jpeg", "jpeg_baseline"),
    ("jpeg_progressive", "jpeg_progressive"),
    ("jpeg_exif_60k", "jpeg_exif_60k"),
    ("jpeg_fake_sof_in_exif", "jpeg_fake_sof_in_exif"),
    ("webp_vp8", "webp_lossy_header"),
    ("webp_vp8l", "webp_lossless"),
    ("webp_vp8x", "webp_extended"),
    ("reject_pdf_as_jpg", "pdf_as_jpg"),
    ("reject_jpeg_header_too_deep", "jpeg_header_too_deep"),
];

fn inspect_per_format(c: &mut Criterion) {
    let policy = Policy::default();
    let mut group = c.benchmark_group("inspect");
    for (label, name) in CASES {
        let s = sample(name);
        let total = s.bytes.len() as u64;
        let prefix = &s.bytes[..s.bytes.len().min(64 * 1024)];
        group.bench_function(label, |b| {
            b.iter(|| inspect(black_box(prefix), total, s.declared_type, &policy))
        });
    }
    group.finish();
}

fn run_gate_in_memory(c: &mut Criterion) {
    let policy = Policy::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let s = sample("jpeg_exif_60k");
    let object = Bytes::from(s.bytes.clone());
    let total = object.len() as u64;
    c.bench_function("run_gate/jpeg_exif_60k", |b| {
        b.iter(|| {
            runtime.block_on(run_gate(total, s.declared_type, &policy, |n| {
                let end = object.len().min(usize::try_from(n).expect("64-bit"));
                // A copy, as a ranged GET delivers fresh bytes.
                std::future::ready(Ok::<_, Infallible>(Bytes::copy_from_slice(&object[..end])))
            }))
        })
    });
}

criterion_group!(benches, inspect_per_format, run_gate_in_memory);
criterion_main!(benches);
