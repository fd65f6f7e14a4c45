//! What the end-to-end tests share: `vetted serve` in-process and its tokens ([`server`]), or
//! as a child process for the crash test ([`process`]), a small API client ([`client`]),
//! reading its database ([`db`]), a real SMTP server to read owner emails from ([`smtp`]),
//! checking emitted events against `schemas/events/`
//! ([`events`]), and capturing them with a webhook receiver ([`webhook`]) or, on moto, from
//! EventBridge ([`event_tap`]).
//!
//! A test target includes it with `mod support;` (from `tests/NAME.rs`) or
//! `#[path = "../support/mod.rs"] mod support;` (from `tests/NAME/main.rs`).

// Each test binary uses the part it needs.
#![allow(dead_code)]

pub mod checksum_walk;
pub mod client;
pub mod db;
pub mod dedup_walk;
pub mod event_tap;
pub mod events;
pub mod logo_walk;
pub mod multipart_walk;
pub mod process;
pub mod server;
pub mod smtp;
pub mod webhook;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The workspace root: this crate is `tests/` in it.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Calls `attempt` every `every` until it returns `Ok`, or panics after `limit` with the last
/// `Err` (which should say what was expected and what was found).
pub async fn eventually<T, F, Fut>(
    limit: Duration,
    every: Duration,
    what: &str,
    mut attempt: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + limit;
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(why) if Instant::now() >= deadline => {
                panic!("{what}: still not so after {limit:?}:\n{why}")
            }
            Err(_) => tokio::time::sleep(every).await,
        }
    }
}

/// Polls `GET /api/uploads/{id}` until its status is `wanted`; returns the upload.
pub async fn wait_for_status(
    api: &client::Api,
    base: &str,
    owner: &str,
    id: &str,
    wanted: &str,
) -> Value {
    let what = format!("upload {id} reaching {wanted}");
    eventually(
        Duration::from_secs(60),
        Duration::from_millis(200),
        &what,
        || async {
            let upload = api
                .upload(base, owner, id)
                .await
                .map_err(|e| e.to_string())?
                .body;
            if upload["status"] == wanted {
                Ok(upload)
            } else {
                Err(format!("expected {wanted}, found {upload}"))
            }
        },
    )
    .await
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether a JPEG has a marker segment `code` before its image data.
pub fn has_jpeg_segment(jpeg: &[u8], code: u8) -> bool {
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        if marker == code {
            return true;
        }
        if marker == 0xDA {
            return false;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        at += 2 + len;
    }
    false
}
