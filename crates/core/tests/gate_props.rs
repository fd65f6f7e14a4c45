//! Properties of the gate on arbitrary and on damaged input: it never panics, a `NeedMore`
//! always asks for progress within bounds, a prefix never contradicts the whole file, and
//! `run_gate` reading in pieces reaches the verdict `inspect` reaches on the whole file.

use std::convert::Infallible;
use std::sync::OnceLock;

use bytes::Bytes;
use proptest::prelude::*;
use vetted_core::inspect::{Verdict, inspect, run_gate};
use vetted_core::{ImageType, Policy};
use vetted_samples::{Sample, catalogue};

fn samples() -> &'static [Sample] {
    static ALL: OnceLock<Vec<Sample>> = OnceLock::new();
    // The 20 MiB sample only tests the size check; leaving it out keeps each case cheap.
    ALL.get_or_init(|| {
        catalogue()
            .into_iter()
            .filter(|s| s.bytes.len() < 1 << 20)
            .collect()
    })
}

fn declared_type() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("image/png".to_owned()),
        Just("image/jpeg".to_owned()),
        Just("image/webp".to_owned()),
        ".{0,20}",
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    (64u64..=128 * 1024, 1u32..=128, any::<bool>()).prop_flat_map(|(cap, min_side, strict)| {
        (1..=cap).prop_map(move |first| Policy {
            gate_max_bytes: cap,
            gate_first_read_bytes: first,
            min_side,
            require_type_match: strict,
            ..Policy::default()
        })
    })
}

/// A sample's bytes, damaged: some bytes overwritten, maybe cut short.
fn damaged_sample() -> impl Strategy<Value = (Vec<u8>, String)> {
    (
        0..samples().len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(i, edits, cut, do_cut)| {
            let s = &samples()[i];
            let mut bytes = s.bytes.clone();
            if !bytes.is_empty() {
                for (at, value) in edits {
                    let at = at.index(bytes.len());
                    bytes[at] = value;
                }
                if do_cut {
                    bytes.truncate(cut.index(bytes.len() + 1));
                }
            }
            (bytes, s.declared_type.to_owned())
        })
}

/// The invariants every verdict keeps, whatever the input.
fn check_invariants(prefix: &[u8], total_len: u64, policy: &Policy, verdict: Verdict) {
    match verdict {
        Verdict::Accept {
            image_type,
            width,
            height,
        } => {
            assert!(policy.allows(image_type));
            assert!((policy.min_side..=policy.max_side).contains(&width));
            assert!((policy.min_side..=policy.max_side).contains(&height));
            assert!(u64::from(width) * u64::from(height) <= policy.max_pixels);
        }
        Verdict::NeedMore { bytes } => {
            let seen = (prefix.len() as u64)
                .min(total_len)
                .min(policy.gate_max_bytes);
            assert!(bytes > seen, "NeedMore {bytes} with {seen} bytes seen");
            assert!(bytes <= total_len && bytes <= policy.gate_max_bytes);
        }
        Verdict::Reject { .. } => {}
    }
}

fn run_gate_on(bytes: &[u8], declared: &str, policy: &Policy) -> (Verdict, u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let outcome = rt
        .block_on(run_gate(bytes.len() as u64, declared, policy, |n| {
            let end = bytes.len().min(usize::try_from(n).expect("64-bit"));
            std::future::ready(Ok::<_, Infallible>(Bytes::copy_from_slice(&bytes[..end])))
        }))
        .expect("in-memory reads cannot fail");
    (outcome.verdict, outcome.bytes_read)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        total_len in any::<u64>(),
        declared in declared_type(),
        policy in policy(),
    ) {
        let verdict = inspect(&bytes, total_len, &declared, &policy);
        check_invariants(&bytes, total_len, &policy, verdict);
    }

    #[test]
    fn never_panics_on_arbitrary_bytes_behind_a_real_signature(
        signature in prop_oneof![
            Just(b"\x89PNG\r\n\x1a\n".to_vec()),
            Just(b"\xFF\xD8\xFF".to_vec()),
            Just(b"RIFF\0\0\0\0WEBP".to_vec()),
        ],
        tail in prop::collection::vec(any::<u8>(), 0..512),
        extra_len in 0u64..1024,
        policy in policy(),
    ) {
        let mut bytes = signature;
        bytes.extend(tail);
        let total_len = bytes.len() as u64 + extra_len;
        for declared in ImageType::ALL {
            let verdict = inspect(&bytes, total_len, declared.mime(), &policy);
            check_invariants(&bytes, total_len, &policy, verdict);
        }
    }

    #[test]
    fn never_panics_on_damaged_samples((bytes, declared) in damaged_sample(), policy in policy()) {
        let total_len = bytes.len() as u64;
        let verdict = inspect(&bytes, total_len, &declared, &policy);
        check_invariants(&bytes, total_len, &policy, verdict);
        prop_assert!(!matches!(verdict, Verdict::NeedMore { .. }), "whole file, yet NeedMore");
    }

    #[test]
    fn a_prefix_never_contradicts_the_whole_file(
        (bytes, declared) in damaged_sample(),
        cut in any::<prop::sample::Index>(),
        policy in policy(),
    ) {
        let total_len = bytes.len() as u64;
        let whole = inspect(&bytes, total_len, &declared, &policy);
        let k = cut.index(bytes.len() + 1);
        match inspect(&bytes[..k], total_len, &declared, &policy) {
            Verdict::NeedMore { bytes: n } => prop_assert!(n > k as u64),
            partial => prop_assert_eq!(partial, whole, "prefix of {} bytes", k),
        }
    }

    #[test]
    fn run_gate_reaches_the_whole_file_verdict(
        (bytes, declared) in damaged_sample(),
        policy in policy(),
    ) {
        let whole = inspect(&bytes, bytes.len() as u64, &declared, &policy);
        let (verdict, bytes_read) = run_gate_on(&bytes, &declared, &policy);
        prop_assert_eq!(verdict, whole);
        prop_assert!(bytes_read <= policy.gate_max_bytes);
    }
}

#[test]
fn every_prefix_of_every_sample_agrees_with_the_whole_file() {
    // Exhaustive over the first 2 KiB and then every 97th length: cheap, and it covers every
    // header in the catalogue except the 60 KiB EXIF, which the stride reaches.
    let policy = Policy::default();
    for s in samples() {
        let total_len = s.bytes.len() as u64;
        let whole = inspect(&s.bytes, total_len, s.declared_type, &policy);
        let lengths = (0..s.bytes.len().min(2048)).chain((2048..s.bytes.len()).step_by(97));
        for k in lengths {
            match inspect(&s.bytes[..k], total_len, s.declared_type, &policy) {
                Verdict::NeedMore { bytes } => assert!(bytes > k as u64, "{}: {k}", s.name),
                partial => assert_eq!(partial, whole, "{}: prefix of {k} bytes", s.name),
            }
        }
    }
}
