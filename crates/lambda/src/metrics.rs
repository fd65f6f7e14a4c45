//! Metrics on Lambda: what the core records (`vetted_core::metrics`) is written to stdout as
//! CloudWatch Embedded Metric Format, one JSON document per invocation, which CloudWatch
//! Logs turns into metrics without a `PutMetricData` call.
//!
//! [`init`] installs the collector (namespace `VETTED_METRICS_NAMESPACE`, else `Vetted`; the
//! template sets `Vetted/{NamePrefix}` so that stacks do not mix); [`flush`] writes what was
//! recorded since the last flush. [`run_sqs`](crate::run_sqs) flushes after every batch; the
//! other functions call [`flush`] at the end of their invocation.

use std::sync::OnceLock;

use metrics_cloudwatch_embedded::{Builder, Collector};

/// The namespace when `VETTED_METRICS_NAMESPACE` is unset.
pub const DEFAULT_NAMESPACE: &str = "Vetted";

static COLLECTOR: OnceLock<Option<&'static Collector>> = OnceLock::new();

/// Installs the EMF collector as the process's metrics recorder. A second call does nothing;
/// a failure (another recorder installed first) is logged, and metrics are then dropped.
pub fn init() {
    COLLECTOR.get_or_init(|| {
        let namespace = std::env::var("VETTED_METRICS_NAMESPACE")
            .ok()
            .filter(|value| !value.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        match Builder::new().cloudwatch_namespace(namespace).init() {
            Ok(collector) => {
                // EMF keeps units, not help texts.
                vetted_core::metrics::describe();
                Some(collector)
            }
            Err(error) => {
                tracing::warn!(%error, "metrics collector not installed; metrics are dropped");
                None
            }
        }
    });
}

/// Writes what was recorded since the last flush to stdout, as EMF lines.
pub fn flush() {
    if let Err(error) = flush_to(std::io::stdout().lock()) {
        tracing::warn!(%error, "writing metrics failed");
    }
}

/// Writes what was recorded since the last flush to `out`, as EMF lines (nothing before
/// [`init`]).
pub fn flush_to(out: impl std::io::Write) -> std::io::Result<()> {
    match COLLECTOR.get() {
        Some(Some(collector)) => collector.flush(out),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use vetted_core::{ReasonCode, Status};

    #[test]
    fn what_the_core_records_is_written_as_one_emf_document_per_flush() {
        init();
        vetted_core::metrics::transition(Status::Rejected, Some(ReasonCode::TypeMismatch));
        vetted_core::metrics::transition(Status::Rejected, Some(ReasonCode::TypeMismatch));
        vetted_core::metrics::gate("reject", Duration::from_micros(40));
        let mut out = Vec::new();
        flush_to(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let documents: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let transitions = documents
            .iter()
            .find(|d| d.get(vetted_core::metrics::UPLOAD_TRANSITIONS).is_some())
            .unwrap_or_else(|| panic!("no transitions document in {text}"));
        assert_eq!(transitions[vetted_core::metrics::UPLOAD_TRANSITIONS], 2);
        assert_eq!(transitions["status"], "rejected");
        assert_eq!(transitions["reason"], "type_mismatch");
        let directive = &transitions["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], DEFAULT_NAMESPACE);
        let gate = documents
            .iter()
            .find(|d| d.get(vetted_core::metrics::GATE_SECONDS).is_some())
            .unwrap_or_else(|| panic!("no gate document in {text}"));
        assert_eq!(
            gate["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
            "Seconds"
        );
        // A flush takes what it wrote: the next one has no transitions to report.
        let mut again = Vec::new();
        flush_to(&mut again).unwrap();
        assert!(
            !String::from_utf8(again)
                .unwrap()
                .contains("\"reason\":\"type_mismatch\"")
        );
    }
}
