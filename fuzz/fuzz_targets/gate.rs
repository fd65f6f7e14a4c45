//! Fuzz target `gate`: `inspect` on arbitrary bytes, with an arbitrary declared type, object
//! length, policy and prefix cut, checking the invariants the intake worker relies on.
//!
//! Input layout (the corpus seeder, `cargo run -p vetted-samples --example fuzz_corpus`,
//! writes the same): byte 0 picks the declared type, byte 1 the policy, bytes 2-3 (LE) where to
//! cut a prefix, bytes 4-7 (LE) how many bytes the object has beyond these, then the file.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vetted_core::inspect::{Verdict, inspect};
use vetted_core::{ImageType, Policy};

const HEADER: usize = 8;

fuzz_target!(|data: &[u8]| {
    if data.len() < HEADER {
        return;
    }
    let (head, file) = data.split_at(HEADER);
    let declared = match head[0] % 4 {
        0 => "image/png",
        1 => "image/jpeg",
        2 => "image/webp",
        _ => "application/octet-stream",
    };
    let policy = match head[1] % 4 {
        0 => Policy::default(),
        1 => Policy {
            gate_max_bytes: 64,
            gate_first_read_bytes: 64,
            min_side: 1,
            ..Policy::default()
        },
        2 => Policy {
            require_type_match: false,
            allowed_types: [ImageType::Jpeg].into(),
            ..Policy::default()
        },
        _ => Policy {
            min_side: 1,
            max_side: u32::MAX,
            max_pixels: u64::MAX,
            ..Policy::default()
        },
    };
    let cut = usize::from(u16::from_le_bytes([head[2], head[3]])).min(file.len());
    let beyond = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));

    // The whole object is here: the verdict is final.
    let total = file.len() as u64;
    let whole = inspect(file, total, declared, &policy);
    check(&policy, file.len() as u64, total, whole);
    assert!(
        !matches!(whole, Verdict::NeedMore { .. }),
        "NeedMore on a whole file"
    );

    // A prefix of it never contradicts the whole file.
    match inspect(&file[..cut], total, declared, &policy) {
        Verdict::NeedMore { bytes } => assert!(bytes > cut as u64),
        partial => assert_eq!(partial, whole, "prefix of {cut} bytes"),
    }

    // The object may be longer than what was read.
    let longer = total.saturating_add(beyond);
    let verdict = inspect(file, longer, declared, &policy);
    check(&policy, file.len() as u64, longer, verdict);
});

fn check(policy: &Policy, seen: u64, total: u64, verdict: Verdict) {
    match verdict {
        Verdict::Accept {
            image_type,
            width,
            height,
        } => {
            assert!(policy.allows(image_type));
            assert!(width >= policy.min_side && width <= policy.max_side);
            assert!(height >= policy.min_side && height <= policy.max_side);
            assert!(u64::from(width) * u64::from(height) <= policy.max_pixels);
        }
        Verdict::NeedMore { bytes } => {
            assert!(bytes > seen.min(policy.gate_max_bytes));
            assert!(bytes <= total && bytes <= policy.gate_max_bytes);
        }
        Verdict::Reject { .. } => {}
    }
}
