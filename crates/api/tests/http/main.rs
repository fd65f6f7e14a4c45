//! HTTP-level tests of the API: a real server on a loopback port, the embedded SQLite record
//! store and file object store in a fresh directory, the real S3 presigner, and responses
//! checked against `schemas/api`. One binary, so it links once.

// Test code may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used)]

mod admin;
mod app;
mod audit;
mod auth;
mod create;
mod events_stream;
mod extensions;
mod four_eyes;
mod invitations;
mod jwks;
mod me;
mod multipart;
mod policy;
mod proxy;
mod quota;
mod read;
mod restaurants;
mod reviews;
mod s3s_verifies;
mod schemas;
mod webhooks;
mod withdraw;
