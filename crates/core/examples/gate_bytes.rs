//! Prints, for every catalogue sample, how many bytes the gate needed: following `NeedMore`
//! from an empty prefix (the least any reader could fetch), and what `run_gate` read with the
//! default policy (one 64 KiB read, or the whole file if smaller). A Markdown table, for
//! BENCHMARKS.md. Run: `cargo run -p vetted-core --example gate_bytes`.

use std::convert::Infallible;

use bytes::Bytes;
use vetted_core::Policy;
use vetted_core::inspect::{Verdict, inspect, run_gate};

fn main() {
    let policy = Policy::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    println!("| case | size (bytes) | verdict | least bytes needed | calls | run_gate read |");
    println!("|---|---:|---|---:|---:|---:|");
    for s in vetted_samples::catalogue() {
        let total = s.bytes.len() as u64;
        let (mut prefix_len, mut calls) = (0u64, 1);
        let verdict = loop {
            let end = usize::try_from(prefix_len).expect("64-bit");
            match inspect(&s.bytes[..end], total, s.declared_type, &policy) {
                Verdict::NeedMore { bytes } => (prefix_len, calls) = (bytes, calls + 1),
                verdict => break verdict,
            }
        };
        let outcome = runtime
            .block_on(run_gate(total, s.declared_type, &policy, |n| {
                let end = s.bytes.len().min(usize::try_from(n).expect("64-bit"));
                std::future::ready(Ok::<_, Infallible>(Bytes::copy_from_slice(&s.bytes[..end])))
            }))
            .expect("in-memory reads cannot fail");
        assert_eq!(outcome.verdict, verdict, "{}", s.name);
        let verdict = match verdict {
            Verdict::Accept { width, height, .. } => format!("accept {width}x{height}"),
            Verdict::Reject { reason } => format!("reject {reason}"),
            Verdict::NeedMore { bytes } => format!("need {bytes}"),
        };
        println!(
            "| {} | {total} | {verdict} | {prefix_len} | {calls} | {} |",
            s.name, outcome.bytes_read
        );
    }
}
