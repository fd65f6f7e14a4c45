//! The parts of the pipeline as `vetted serve` runs them, whichever backend provides them:
//! the ports, the three work queues, the presigner, and what only one backend has.

use std::sync::Arc;

use vetted_api::auth::{DevKey, LocalIssuer};
use vetted_core::ports::{
    AuditTrail, BannedContent, EventSink, Mailer, MultipartUploads, Notifications, ObjectStore,
    Restaurants, ReviewWorkflow, UploadSigner, Uploads, Webhooks, WorkQueue,
};
use vetted_embedded::db::Db;
use vetted_embedded::outbox::SqliteOutbox;
use vetted_embedded::sqlite_webhooks::SqliteWebhooks;
use vetted_embedded::workflow::EmbeddedWorkflow;
use vetted_s3_endpoint::S3Endpoint;

/// The review workflow this binary was built with, the same file the SAM template deploys.
pub const REVIEW_ASL: &str = include_str!("../../../statemachine/review.asl.json");

pub struct Pipeline {
    pub uploads: Arc<dyn Uploads>,
    pub restaurants: Arc<dyn Restaurants>,
    /// The append-only trail of decisions and operators' actions.
    pub audit: Arc<dyn AuditTrail>,
    /// The SHA-256 digests admins refuse for good.
    pub banned: Arc<dyn BannedContent>,
    pub objects: Arc<dyn ObjectStore>,
    pub workflow: Arc<dyn ReviewWorkflow>,
    pub events: Arc<dyn EventSink>,
    pub signer: Arc<dyn UploadSigner>,
    /// The store's side of multipart uploads: the embedded endpoint in process, or S3.
    pub multipart: Arc<dyn MultipartUploads>,
    pub intake_queue: Arc<dyn WorkQueue>,
    pub sanitize_queue: Arc<dyn WorkQueue>,
    pub review_tasks_queue: Arc<dyn WorkQueue>,
    /// The bucket intake expects notifications from.
    pub bucket: String,
    /// Signs `vetted token`'s and `--demo`'s tokens; the API accepts them.
    pub dev_key: DevKey,
    /// Email preferences and the sent ledger, where this backend keeps them.
    pub notifications: Option<Arc<dyn Notifications>>,
    /// The backend's own mailer (SES on AWS, with `[mail] from` as the identity); `None` on
    /// the embedded backend, where the settings choose SMTP or files.
    pub mailer: Option<Arc<dyn Mailer>>,
    /// Where the outcome events wait for the owner notifier, on a backend that routes them
    /// to a queue (AWS: an EventBridge rule); the embedded backend's outbox calls it directly.
    pub notify_queue: Option<Arc<dyn WorkQueue>>,
    pub backend: Backend,
}

/// What only one backend has, and `vetted serve` must run or mount.
pub enum Backend {
    Embedded {
        /// The database every SQLite adapter shares; the account store opens on it.
        db: Db,
        /// Signs the account store's tokens.
        issuer: Arc<LocalIssuer>,
        engine: Arc<EmbeddedWorkflow>,
        outbox: Arc<SqliteOutbox>,
        s3: Arc<S3Endpoint>,
        /// Webhook endpoints and deliveries.
        webhooks: Arc<SqliteWebhooks>,
    },
    /// AWS, or an emulator of it: Step Functions runs the workflow and EventBridge takes the
    /// events; uploads go to S3 itself.
    #[cfg_attr(
        not(feature = "aws"),
        expect(dead_code, reason = "built by the aws feature")
    )]
    Aws {
        endpoint_url: Option<String>,
        /// Webhook endpoints and deliveries (DynamoDB), for the admin API, when the resources
        /// name the table; the `webhooks` Lambda delivers them.
        webhooks: Option<Arc<dyn Webhooks>>,
    },
}
