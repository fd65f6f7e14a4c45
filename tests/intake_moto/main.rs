//! Intake against the moto emulator, driven as Lambda drives it: the S3 notification is taken
//! off the real intake queue and handed to the intake function's handler in an `SqsEvent`, and
//! the messages it does not report as failed are deleted.
//!
//! - `upload`: a presigned POST of a real PNG is received and its review starts; an HTML file
//!   declared as a PNG is rejected, quarantined and announced.
//! - `duplicates`: one notification handled three times, and twice at once, starts one review.
//! - `poison`: a body that is not JSON reaches the dead-letter queue while its batch-mates
//!   succeed.
//! - `keys`: keys Vetted never issued (spaces, `+`, `%2B`, Unicode, `../`, `//`), an upload
//!   with no intent and one whose intent expired are deleted, and nothing crashes.
//! - `sweep`: lost notifications are recovered and stale intents expire, on moto and on the
//!   embedded adapters.
//! - `maintenance`: the maintenance function's scheduled pass does the same over its own
//!   composition of the AWS adapters.
//! - `redrive`: operator recovery on moto and on the embedded adapters: a notification that
//!   keeps failing is dead-lettered, redriven and goes on to `IN_REVIEW`; a `FAILED` upload is
//!   redriven under a new execution; a rescan is interrupted and resumed; stale intents expire.
//! - `burst`: 200 uploads at once (2,000 with `VETTED_BURST_UPLOADS=2000`) while a share of
//!   review starts is throttled: intake defers them through its own queue, and every upload
//!   reaches `IN_REVIEW` with no dead letter.
//! - `overwrite`: the key written again between intake and sanitize: on moto the first write
//!   is reviewed and published, on the embedded adapters it is refused as `object_replaced`;
//!   never is the second write published.
//! - `email`: owner emails through SES, once per member and transition however often an
//!   event is handled, read back from moto's sent-message store.
//!
//! Every test bootstraps its own pipeline under a unique prefix.

// Helpers shared by the tests report a failed step by panicking, as the tests do.
#![allow(clippy::unwrap_used)]

mod burst;
mod duplicates;
mod email;
#[path = "../support/event_tap.rs"]
mod event_tap;
mod events;
mod keys;
mod maintenance;
mod overwrite;
mod poison;
mod redrive;
mod support;
mod sweep;
mod upload;
