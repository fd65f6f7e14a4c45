//! The cost of a content SHA-256 per MiB: what the embedded endpoint and the proxy spend
//! hashing a pinned upload as it arrives (`ContentSha256::of` is the same `sha2` code their
//! streaming hashers run). The page's WebCrypto figure is measured in Chromium; both are in
//! BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vetted_core::ContentSha256;

fn checksum(c: &mut Criterion) {
    let mut group = c.benchmark_group("sha256");
    for mib in [1usize, 20] {
        let bytes: Vec<u8> = (0..mib << 20).map(|i| (i * 31 % 251) as u8).collect();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(format!("{mib}MiB"), |b| {
            b.iter(|| ContentSha256::of(black_box(&bytes)))
        });
    }
    group.finish();
}

criterion_group!(benches, checksum);
criterion_main!(benches);
