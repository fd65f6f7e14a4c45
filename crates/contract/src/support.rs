//! Helpers shared by the suites: naming a failed check, and bounded waiting.

use std::future::Future;
use std::time::{Duration, Instant};

use vetted_core::UploadId;

/// Names a check on stderr if it panics, and how long it took if it passes (`--nocapture`).
pub(crate) struct Check {
    name: &'static str,
    started: Instant,
}

impl Check {
    pub(crate) fn start(name: &'static str) -> Self {
        Self {
            name,
            started: Instant::now(),
        }
    }
}

impl Drop for Check {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        if std::thread::panicking() {
            eprintln!("contract check FAILED: {} (after {elapsed:.1?})", self.name);
        } else {
            eprintln!("contract check ok: {} ({elapsed:.1?})", self.name);
        }
    }
}

/// A string no other check, run or process will use: for keys, owners and message bodies.
pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", UploadId::generate())
}

/// Calls `attempt` until it returns `Some`, or panics with `what` once `limit` has passed.
///
/// Only for what a backend may make visible a little later (an index, an approximate count);
/// everything else is asserted on the first answer.
pub(crate) async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + limit;
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("{what}: still not true after {limit:?}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
