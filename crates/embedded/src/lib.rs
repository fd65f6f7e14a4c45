//! Adapters for one machine: real files for objects, a real SQLite file for records,
//! restaurants, queues, workflow executions and events. The S3-compatible upload endpoint is
//! its own crate, `vetted-s3-endpoint`, so that it links no SQLite.

pub mod db;
pub mod fs_store;
mod keyset;
pub mod outbox;
pub mod sqlite_accounts;
pub mod sqlite_audit;
pub mod sqlite_banned;
pub mod sqlite_invitations;
pub mod sqlite_notifications;
pub mod sqlite_queue;
pub mod sqlite_restaurants;
pub mod sqlite_uploads;
pub mod sqlite_webhooks;
pub mod workflow;
