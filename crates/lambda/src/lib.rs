//! What every Vetted Lambda function shares, so that each `functions/<name>/src/main.rs` is
//! only the composition of adapters and a service.
//!
//! - Settings: each function reads a typed `Config` from [`vetted_core::settings::Env`] once
//!   at start-up; a missing or malformed variable stops it with a message naming the
//!   variable, before the first event.
//! - [`sqs`]: [`run_sqs`] serves any [`QueueService`](vetted_core::QueueService) from an SQS
//!   event source mapping, answering with an `SqsBatchResponse` that names only the failed
//!   messages.
//! - [`metrics`]: CloudWatch EMF for what the core records, flushed once per invocation.
//! - Logs: [`init_tracing`], JSON lines with the fields of the spans they were written in
//!   (the invocation's `requestId`, an upload's `upload_id` and `correlation_id`).

pub mod metrics;
pub mod sqs;

pub use sqs::run_sqs;

/// JSON logs for CloudWatch, one object a line, filtered by `VETTED_LOG` (as the template
/// sets it, e.g. `info` or `vetted_core=debug,info`), else by the function's
/// `AWS_LAMBDA_LOG_LEVEL`, else `info`.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("VETTED_LOG")
        .or_else(|_| EnvFilter::try_from_env("AWS_LAMBDA_LOG_LEVEL"))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .with_ansi(false)
        .init();
}
