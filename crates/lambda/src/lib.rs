//! What every Vetted Lambda function shares, so that each `functions/<name>/src/main.rs` is
//! only the composition of adapters and a handler.
//!
//! - [`env`]: typed settings read once at start-up; a missing or malformed variable stops the
//!   function with a message naming it, before the first event.
//! - [`sqs`]: an SQS batch in, an `SqsBatchResponse` naming only the failed messages out.

pub mod env;
pub mod sqs;

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
        .with_ansi(false)
        .init();
}
