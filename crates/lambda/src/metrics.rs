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
            Ok(collector) => Some(collector),
            Err(error) => {
                tracing::warn!(%error, "metrics collector not installed; metrics are dropped");
                None
            }
        }
    });
}

/// Writes what was recorded since the last flush to stdout, as EMF lines.
pub fn flush() {
    if let Some(Some(collector)) = COLLECTOR.get()
        && let Err(error) = collector.flush(std::io::stdout().lock())
    {
        tracing::warn!(%error, "writing metrics failed");
    }
}
