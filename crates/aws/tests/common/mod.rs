//! What every AWS adapter test needs: the emulator's address, clients for it, unique names.
//!
//! The tests run against a real moto server (`scripts/test` starts one and exports
//! `VETTED_TEST_AWS_ENDPOINT`). Without it they fail, loudly: a skipped AWS test would look
//! like a passing one.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use vetted_aws::config::AwsContext;
use vetted_core::UploadId;

pub const ENDPOINT_VARIABLE: &str = "VETTED_TEST_AWS_ENDPOINT";

/// The emulator's URL, or a panic that says how to get one.
pub fn endpoint() -> String {
    match std::env::var(ENDPOINT_VARIABLE) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{ENDPOINT_VARIABLE} is not set: run ./scripts/test, or set \
             {ENDPOINT_VARIABLE} to a running moto_server"
        ),
    }
}

/// Clients for the emulator, with the dummy credentials and region it accepts.
pub async fn context() -> AwsContext {
    AwsContext::builder()
        .endpoint_url(endpoint())
        .region("us-east-1")
        .static_credentials("test", "test")
        .load()
        .await
}

/// A name no other test or run uses, valid for buckets, queues and tables (lowercase,
/// letters, digits and '-').
pub fn unique(prefix: &str) -> String {
    let id = UploadId::generate().to_string().replace('-', "");
    format!("{prefix}-{id}")
}

/// Calls `attempt` until it returns `Some`, or panics naming `what` after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
