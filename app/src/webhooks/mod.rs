//! `vetted webhook verify`, for receivers ([`verify`]).
//!
//! The deliveries themselves (enqueue, the worker, its DNS guard) live in `vetted-webhooks`,
//! shared with the `webhooks` Lambda: `vetted serve`'s notifier enqueues one delivery per
//! matching endpoint for each event leaving the outbox, and the worker sends them.

pub mod verify;
