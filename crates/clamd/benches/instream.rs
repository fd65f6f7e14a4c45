//! What one scan costs: a file sent to a real clamd over its Unix socket with INSTREAM and
//! its answer read, per size. The clamd is the tests' (`test_daemon`), with one `.ndb` body
//! signature, so the figure is the protocol and clamd's scanning engine over the bytes, not a
//! production signature set (which downloads, and costs more per byte). The files are
//! pseudo-random bytes (no file type clamd would unpack), clean.
//!
//! Run: `cargo bench -p vetted-clamd --bench instream` (needs Debian's clamav-daemon).

use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vetted_clamd::test_daemon::TestClamd;
use vetted_core::ports::{ScanOutcome, Scanner};

const MIB: usize = 1024 * 1024;

fn noise(len: usize) -> Bytes {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect::<Vec<u8>>()
        .into()
}

fn instream(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let clamd = runtime.block_on(TestClamd::start_with_stream_max(64 * MIB));
    let scanner = clamd.scanner(Duration::from_secs(120));
    let mut group = c.benchmark_group("clamd_instream");
    group.sample_size(10);
    for mib in [1usize, 8, 20] {
        let file = noise(mib * MIB);
        group.throughput(Throughput::Bytes(file.len() as u64));
        group.bench_function(format!("{mib}_mib"), |b| {
            b.iter(|| {
                let outcome = runtime.block_on(scanner.scan(file.clone()));
                assert_eq!(outcome, ScanOutcome::Clean);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, instream);
criterion_main!(benches);
