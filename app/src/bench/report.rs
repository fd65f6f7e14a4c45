//! What one phase of `vetted bench` measured, from the records the server wrote, and how it
//! is printed and written as JSON.

use std::time::Duration;

use serde_json::{Value, json};
use vetted_core::Timestamp;

use super::Phase;

/// The figures of one phase: one path, its uploads and what became of them.
pub(super) struct Report {
    pub(super) path: Phase,
    pub(super) uploads: usize,
    pub(super) concurrency: usize,
    pub(super) invalid_share: f64,
    settled: usize,
    in_review: usize,
    rejected: usize,
    other: usize,
    send_errors: usize,
    sending: Duration,
    /// From the first intent to the last upload reaching its verdict, by the server's clock.
    span: Duration,
    latencies_ms: Vec<u64>,
    /// The server's peak resident memory when this phase ended (since it started).
    pub(super) peak_rss_kib: Option<u64>,
}

/// How one phase ran, before its records are read back.
pub(super) struct PhaseRun {
    pub(super) path: Phase,
    pub(super) uploads: usize,
    pub(super) concurrency: usize,
    pub(super) invalid_share: f64,
    pub(super) send_errors: usize,
    pub(super) sending: Duration,
}

impl Report {
    pub(super) fn new(run: PhaseRun, records: &[Value], peak_rss_kib: Option<u64>) -> Self {
        let time = |r: &Value, field: &str| {
            r[field]
                .as_str()
                .and_then(|t| Timestamp::parse_rfc3339(t).ok())
        };
        let (mut in_review, mut rejected, mut other) = (0, 0, 0);
        let mut latencies_ms = Vec::new();
        let (mut first, mut last) = (None::<Timestamp>, None::<Timestamp>);
        for record in records {
            let (Some(created), Some(since)) =
                (time(record, "created_at"), time(record, "status_since"))
            else {
                continue;
            };
            match record["status"].as_str() {
                Some("IN_REVIEW") => {
                    in_review += 1;
                    latencies_ms.push(
                        u64::try_from(since.duration_since(created).as_millis())
                            .unwrap_or(u64::MAX),
                    );
                }
                Some("REJECTED") => rejected += 1,
                _ => other += 1,
            }
            first = Some(first.map_or(created, |f| f.min(created)));
            last = Some(last.map_or(since, |l| l.max(since)));
        }
        latencies_ms.sort_unstable();
        let span = match (first, last) {
            (Some(first), Some(last)) => last.duration_since(first),
            _ => Duration::ZERO,
        };
        Self {
            path: run.path,
            uploads: run.uploads,
            concurrency: run.concurrency,
            invalid_share: run.invalid_share,
            settled: records.len(),
            in_review,
            rejected,
            other,
            send_errors: run.send_errors,
            sending: run.sending,
            span,
            latencies_ms,
            peak_rss_kib,
        }
    }

    fn percentile(&self, p: f64) -> Option<u64> {
        if self.latencies_ms.is_empty() {
            return None;
        }
        let rank = ((p / 100.0) * (self.latencies_ms.len() - 1) as f64).round() as usize;
        self.latencies_ms.get(rank).copied()
    }

    fn throughput(&self) -> f64 {
        let seconds = self.span.as_secs_f64();
        if seconds > 0.0 {
            self.settled as f64 / seconds
        } else {
            0.0
        }
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "path": self.path.name(),
            "uploads": self.uploads,
            "concurrency": self.concurrency,
            "invalid_share": self.invalid_share,
            "settled": self.settled,
            "in_review": self.in_review,
            "rejected": self.rejected,
            "other": self.other,
            "send_errors": self.send_errors,
            "sending_seconds": self.sending.as_secs_f64(),
            "span_seconds": self.span.as_secs_f64(),
            "uploads_per_second": self.throughput(),
            "latency_ms": {"p50": self.percentile(50.0), "p99": self.percentile(99.0), "max": self.latencies_ms.last()},
            "peak_rss_kib": self.peak_rss_kib,
        })
    }

    pub(super) fn print(&self) {
        println!(
            "{} path: {} uploads, {} at a time, {:.0}% invalid",
            self.path.name(),
            self.uploads,
            self.concurrency,
            self.invalid_share * 100.0
        );
        println!(
            "  settled          {} ({} in review, {} rejected, {} other), {} failed to send",
            self.settled, self.in_review, self.rejected, self.other, self.send_errors
        );
        println!("  sending took     {:.2} s", self.sending.as_secs_f64());
        println!(
            "  upload→verdict   {:.0} uploads/s over {:.2} s (server clock)",
            self.throughput(),
            self.span.as_secs_f64()
        );
        let ms = |v: Option<u64>| v.map_or("-".to_owned(), |v| format!("{v} ms"));
        println!(
            "  upload→IN_REVIEW p50 {}  p99 {}  max {}",
            ms(self.percentile(50.0)),
            ms(self.percentile(99.0)),
            ms(self.latencies_ms.last().copied())
        );
        match self.peak_rss_kib {
            Some(kib) => println!(
                "  server peak RSS  {:.1} MiB (since start, read at this phase's end)",
                kib as f64 / 1024.0
            ),
            None => {
                println!("  server peak RSS  (not measured: the server was not started by bench)")
            }
        }
    }
}

/// The gate's reads, printed once for the run.
pub(super) fn print_gate_bytes(gate_bytes: &[(&'static str, u64)]) {
    let gate: Vec<String> = gate_bytes
        .iter()
        .map(|(n, b)| format!("{n} {b} B"))
        .collect();
    println!("gate bytes read    {}", gate.join(", "));
}
