//! Browser end-to-end tests: `vetted serve` (in-process) and its two pages, driven in
//! headless Chromium through chromedriver (Debian's `chromium` and `chromium-driver`, which
//! `scripts/test` installs). Screenshots of every step land in `target/browser-artifacts/`.

// clippy.toml allows unwrap in #[test] functions; the helpers here are test code too.
#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod accounts;
mod conflict;
mod demo;
mod email_toggles;
mod four_eyes;
mod harness;
mod live;
mod page;
mod progress;
mod resume;
mod slots;
mod steps;
mod throttle;
mod upload_review;
