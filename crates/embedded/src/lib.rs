//! Adapters for one machine: real files for objects, a real SQLite file for records, queues,
//! workflow executions and events, and an S3-compatible endpoint for browser uploads.

pub mod db;
pub mod fs_store;
pub mod outbox;
pub mod s3;
pub mod sqlite_queue;
pub mod sqlite_uploads;
pub mod workflow;
