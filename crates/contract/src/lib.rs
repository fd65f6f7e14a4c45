//! The contract suites: one per port, run against every adapter of that port.
//!
//! Each module has a `run_all` that an adapter's tests call with a fresh, empty instance, and
//! one `pub async fn` per check, so a failure names the check (the message starts with it, and
//! the failing check is printed on stderr as well). The suites assume nothing that only one
//! backend does: records and keys are unique per check, so they also work on a shared table or
//! bucket, and waits are real, because the AWS adapters run them against the emulator.
//!
//! Call them from a multi-threaded tokio runtime:
//!
//! ```text
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn objects_contract() {
//!     vetted_contract::objects::run_all(&store).await;
//! }
//! ```

pub mod audit;
pub mod banned;
pub mod emulator;
pub mod events;
pub mod invitations;
pub mod multipart;
pub mod notifications;
pub mod objects;
pub mod queue;
pub mod restaurants;
pub mod uploads;
pub mod webhooks;
pub mod workflow;

mod support;
