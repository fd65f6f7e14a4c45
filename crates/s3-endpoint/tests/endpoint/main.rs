//! The endpoint's integration tests, one binary: accepted requests signed by boto3 and the
//! Rust SDK (multipart uploads among them), and the refusals of POST, PUT, GET and routing, each against a real server over
//! in-memory ports.

// Test helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod accepted;
mod harness;
mod memory;
mod multipart;
mod post_refusals;
mod put_refusals;
mod refusals;
