//! Turning a spooled body into an object and announcing it, as S3 → SQS would.
//!
//! The store and the queue are separate ports, so "stored" and "announced" cannot be one
//! transaction. If the announcement fails, the object is deleted again and the client gets a
//! 500, so that a retry starts clean; an object is never left stored while the client was
//! told it failed and no event says it exists. (A crash between the two steps can still leave
//! an unannounced object; the client was not told it succeeded, and retries.)

use vetted_core::ObjectKey;
use vetted_core::ports::{ObjectMeta, StoreError};

use super::S3Endpoint;
use super::errors::{S3Error, S3ErrorCode};
use super::events::{CreatedBy, ObjectCreated};
use super::request::RequestContext;
use super::spool::Spooled;

/// How a stored object is described to the store and the event.
#[derive(Debug, Clone, Copy)]
pub struct Commit<'a> {
    pub key: &'a ObjectKey,
    pub content_type: &'a str,
    /// `If-None-Match: *`: refuse if the key already holds an object.
    pub only_if_absent: bool,
    pub created_by: CreatedBy,
}

pub fn precondition_failed() -> S3Error {
    S3Error::new(
        S3ErrorCode::PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold",
    )
    .with("Condition", "If-None-Match")
}

impl S3Endpoint {
    /// Whether an object exists at `key`.
    pub(crate) async fn exists(&self, key: &ObjectKey) -> Result<bool, S3Error> {
        match self.store.head(key).await {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound(_)) => Ok(false),
            Err(error) => Err(S3Error::internal(&error)),
        }
    }

    /// Stores the spooled body under the key and enqueues the S3 event for it.
    pub(crate) async fn commit(
        &self,
        commit: Commit<'_>,
        spooled: Spooled,
        context: &RequestContext,
    ) -> Result<ObjectMeta, S3Error> {
        let meta = {
            let _serialised = self.commit_lock.lock().await;
            if commit.only_if_absent && self.exists(commit.key).await? {
                return Err(precondition_failed());
            }
            // The spool file is ours alone, so the store may take it (rename) instead of
            // copying it.
            self.store
                .adopt_file(commit.key, spooled.path(), commit.content_type)
                .await
                .map_err(|e| S3Error::internal(&e))?
        };
        drop(spooled);
        let now = self.now();
        let sequencer = self.sequencer.next(now);
        let event = ObjectCreated {
            method: commit.created_by,
            region: &self.config.region,
            bucket: &self.config.bucket,
            key: commit.key.as_str(),
            size: meta.size,
            etag: &meta.etag,
            version_id: meta.version.as_deref(),
            event_time: now,
            principal_id: &self.config.principal_id,
            bucket_owner_id: &self.config.bucket_owner_id,
            source_ip: &context.source_ip,
            request_id: &context.request_id,
            host_id: &context.host_id,
            configuration_id: &self.config.notification_id,
            sequencer: &sequencer,
        };
        if let Err(error) = self.queue.send(&event.to_json()).await {
            tracing::error!(key = %commit.key, %error, "enqueueing the S3 event failed; removing the object");
            if let Err(undo) = self.store.delete(commit.key).await {
                tracing::error!(key = %commit.key, error = %undo, "removing the unannounced object failed");
            }
            return Err(S3Error::internal(&error));
        }
        tracing::info!(key = %commit.key, size = meta.size, etag = %meta.etag, "object stored");
        Ok(meta)
    }
}

/// The `ETag` header value: always quoted, as S3 sends it.
pub fn quoted_etag(etag: &str) -> String {
    format!("\"{}\"", etag.trim_matches('"'))
}
