//! Every sample in the catalogue through the gate: `inspect` on the whole file, and `run_gate`
//! reading a real file on disk, as the intake worker reads an object.

use std::io::{Read, Seek, SeekFrom};
use std::sync::OnceLock;

use bytes::Bytes;
use vetted_core::inspect::{GateOutcome, Verdict, inspect, run_gate};
use vetted_core::policy::KIB;
use vetted_core::{Policy, ReasonCode};
use vetted_samples::{Expect, Sample, catalogue};

fn samples() -> &'static [Sample] {
    static ALL: OnceLock<Vec<Sample>> = OnceLock::new();
    ALL.get_or_init(catalogue)
}

fn expected(sample: &Sample) -> Verdict {
    match sample.expect {
        Expect::Accept {
            image_type,
            width,
            height,
        } => Verdict::Accept {
            image_type,
            width,
            height,
        },
        Expect::Reject(reason) => Verdict::Reject { reason },
    }
}

/// Reads prefixes of a real file, as the worker reads prefixes of an object.
async fn gate_on_disk(sample: &Sample, policy: &Policy) -> (GateOutcome, Vec<u64>) {
    let mut file = tempfile::tempfile().expect("a temporary file");
    std::io::Write::write_all(&mut file, &sample.bytes).expect("written");
    let total = file.metadata().expect("its size").len();
    let mut asked = Vec::new();
    let outcome = run_gate(total, sample.declared_type, policy, |n| {
        asked.push(n);
        let mut prefix = Vec::new();
        let read = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| (&mut file).take(n).read_to_end(&mut prefix));
        std::future::ready(read.map(|_| Bytes::from(prefix)))
    })
    .await
    .expect("reads from a temporary file");
    (outcome, asked)
}

#[test]
fn inspect_on_the_whole_file_gives_the_catalogued_verdict() {
    let policy = Policy::default();
    let mut wrong = Vec::new();
    for s in samples() {
        let got = inspect(&s.bytes, s.bytes.len() as u64, s.declared_type, &policy);
        if got != expected(s) {
            wrong.push(format!(
                "{}: expected {:?}, got {got:?}",
                s.name,
                expected(s)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn run_gate_on_files_agrees_and_never_reads_past_64_kib() {
    let policy = Policy::default();
    for s in samples() {
        let (outcome, asked) = gate_on_disk(s, &policy).await;
        assert_eq!(outcome.verdict, expected(s), "{}", s.name);
        assert!(
            outcome.bytes_read <= 64 * KIB,
            "{}: {}",
            s.name,
            outcome.bytes_read
        );
        // The default policy's first read is the cap: one read at most.
        assert!(asked.len() <= 1, "{}: {asked:?}", s.name);
        let size_decides = matches!(
            outcome.verdict.reason(),
            Some(ReasonCode::Empty | ReasonCode::TooLarge)
        );
        assert_eq!(outcome.bytes_read == 0, size_decides, "{}", s.name);
    }
}

#[tokio::test]
async fn the_60k_exif_jpeg_is_accepted_within_64_kib_and_the_deep_one_is_not() {
    let policy = Policy::default();
    let by_name = |name| samples().iter().find(|s| s.name == name).unwrap();

    let exif = by_name("jpeg_exif_60k");
    assert!(exif.bytes.len() > 60 * 1024);
    let (outcome, _) = gate_on_disk(exif, &policy).await;
    assert!(outcome.verdict.is_accept(), "{outcome:?}");
    assert!(outcome.bytes_read <= 64 * KIB);

    let deep = by_name("jpeg_header_too_deep");
    let (outcome, asked) = gate_on_disk(deep, &policy).await;
    assert_eq!(outcome.verdict.reason(), Some(ReasonCode::HeaderTooDeep));
    assert_eq!(asked, [64 * KIB]);
}

#[tokio::test]
async fn a_small_first_read_reaches_the_same_verdicts_with_at_most_two_reads() {
    let policy = Policy {
        gate_first_read_bytes: 512,
        ..Policy::default()
    };
    for s in samples() {
        let (outcome, asked) = gate_on_disk(s, &policy).await;
        assert_eq!(outcome.verdict, expected(s), "{}", s.name);
        assert!(asked.len() <= 2, "{}: {asked:?}", s.name);
        assert!(
            asked.iter().all(|&n| n <= 64 * KIB),
            "{}: {asked:?}",
            s.name
        );
    }
}

#[test]
fn the_walk_measures_what_imagesize_measures() {
    // A differential check of our header walk against an independent one, on every sample
    // that is a valid image whatever the policy says of its size.
    let lax = Policy {
        require_type_match: false,
        min_side: 1,
        max_side: u32::MAX,
        max_pixels: u64::MAX,
        gate_max_bytes: 1 << 20,
        gate_first_read_bytes: 1 << 20,
        ..Policy::default()
    };
    let mut compared = 0;
    for s in samples() {
        let Verdict::Accept { width, height, .. } =
            inspect(&s.bytes, s.bytes.len() as u64, s.declared_type, &lax)
        else {
            continue;
        };
        let size = imagesize::blob_size(&s.bytes).unwrap();
        assert_eq!(
            (size.width, size.height),
            (width as usize, height as usize),
            "{}",
            s.name
        );
        compared += 1;
    }
    assert!(compared >= 25, "only {compared} samples compared");
}
