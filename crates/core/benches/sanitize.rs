//! Sanitize (full decode under limits, orientation, re-encode, preview) per format and size.
//! Run: `cargo bench -p vetted-core --bench sanitize`. Peak memory per size comes from the
//! `sanitize_memory` example, one process per size (see BENCHMARKS.md).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vetted_core::ImageType;
use vetted_core::policy::Policy;
use vetted_core::review::sanitize::{DEFAULT_MAX_DECODE_ALLOC, sanitize};
use vetted_samples::images;

fn sizes() -> [(u32, u32); 3] {
    // 1, 4 and 12 megapixels: a logo, a phone photo, a large camera photo.
    [(1000, 1000), (2000, 2000), (4000, 3000)]
}

fn bench(c: &mut Criterion) {
    let policy = Policy::default();
    let mut group = c.benchmark_group("sanitize");
    group.sample_size(10);
    for (width, height) in sizes() {
        let megapixels = u64::from(width * height) / 1_000_000;
        group.throughput(Throughput::Elements(megapixels));
        let cases = [
            (ImageType::Jpeg, images::jpeg(width as u16, height as u16)),
            (ImageType::Png, images::png(width, height)),
            (ImageType::Webp, images::webp_lossless(width, height)),
        ];
        for (image_type, bytes) in cases {
            let id = BenchmarkId::new(image_type.extension(), format!("{megapixels}MP"));
            group.bench_with_input(id, &bytes, |b, bytes| {
                b.iter(|| {
                    sanitize(bytes, image_type, &policy, DEFAULT_MAX_DECODE_ALLOC)
                        .map(|s| s.bytes.len())
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
