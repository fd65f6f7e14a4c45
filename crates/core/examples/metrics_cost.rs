//! What recording a metric costs on the paths that record them: one status move counted
//! (`metrics::transition`, as `Lifecycle::advance` does) and one timed gate observation
//! (`metrics::gate` with its two clock reads), into the Prometheus recorder `vetted serve`
//! installs. Prints nanoseconds per call; `BENCHMARKS.md`, "Recording metrics".
//!
//! Run: `cargo run --release -p vetted-core --example metrics_cost`.

use std::time::Instant;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use vetted_core::metrics::{LATENCY_BUCKETS, gate, transition};
use vetted_core::{ReasonCode, Status};

const CALLS: u32 = 1_000_000;

fn main() {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
        .and_then(PrometheusBuilder::install_recorder)
        .expect("installing the recorder");
    let moves = [
        (Status::Received, None),
        (Status::InReview, None),
        (Status::Rejected, Some(ReasonCode::TypeMismatch)),
    ];
    for round in 1..=3 {
        let started = Instant::now();
        for call in 0..CALLS {
            let (status, reason) = moves[(call % 3) as usize];
            transition(status, reason);
        }
        let per_move = started.elapsed() / CALLS;
        let started = Instant::now();
        for call in 0..CALLS {
            // The exporter keeps observations until upkeep, as a scrape would drain them.
            if call % 65_536 == 0 {
                handle.run_upkeep();
            }
            let gate_started = Instant::now();
            gate("accept", gate_started.elapsed());
        }
        let per_gate = started.elapsed() / CALLS;
        println!(
            "round {round}: a status move counted {} ns, a gate timed and observed {} ns",
            per_move.as_nanos(),
            per_gate.as_nanos()
        );
    }
    assert!(handle.render().contains("vetted_upload_transitions_total"));
}
