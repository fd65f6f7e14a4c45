//! The embedded backend: everything under one data directory, in this process.
//!
//! ```text
//! {data}/vetted.db          records, restaurants and slots, queues, workflow executions,
//!                           event outbox (SQLite, WAL)
//! {data}/objects/           uploaded, quarantined, sanitized, preview and published objects
//! {data}/spool/             request bodies on their way into objects/
//! {data}/dev-jwt.key        signs dev tokens (vetted token, --demo)
//! {data}/s3-credentials.json  the keys the upload endpoint verifies presigned requests with
//! {data}/outbox-mail/       owner emails as .eml files, when no SMTP server is set
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use vetted_api::auth::{DevKey, LocalIssuer};
use vetted_core::Clock;
use vetted_core::presign::{BucketEndpoint, S3Target};
use vetted_embedded::db::Db;
use vetted_embedded::fs_store::FsObjectStore;
use vetted_embedded::outbox::SqliteOutbox;
use vetted_embedded::sqlite_audit::SqliteAudit;
use vetted_embedded::sqlite_banned::SqliteBanned;
use vetted_embedded::sqlite_notifications::SqliteNotifications;
use vetted_embedded::sqlite_queue::{QueueConfig, SqliteWorkQueue};
use vetted_embedded::sqlite_restaurants::SqliteRestaurants;
use vetted_embedded::sqlite_uploads::SqliteUploads;
use vetted_embedded::sqlite_webhooks::SqliteWebhooks;
use vetted_embedded::workflow::EmbeddedWorkflow;
use vetted_s3_endpoint::{Credentials, S3Config, S3Endpoint};

use super::pipeline::{Backend, Pipeline, REVIEW_ASL};
use super::presign::EndpointPresigner;

pub const BUCKET: &str = "vetted-uploads";
const REGION: &str = "us-east-1";
const CREDENTIALS_FILE: &str = "s3-credentials.json";

/// A message received this many times without success moves to the dead-letter table.
const MAX_RECEIVES: u32 = 5;

/// The embedded pipeline under `data`; the upload endpoint takes objects of up to
/// `largest_upload` bytes (the largest any slot's policy admits; 20 MiB when that is less).
pub async fn build(
    data: &Path,
    public_url: &str,
    largest_upload: u64,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Pipeline> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let db = Db::open(data.join("vetted.db"))
        .await
        .with_context(|| format!("opening the database in {}", data.display()))?;
    let objects = Arc::new(FsObjectStore::new(data.join("objects")).context("object store")?);
    let left = objects
        .remove_temp_files()
        .context("cleaning the object store")?;
    if left > 0 {
        tracing::warn!(
            left,
            "removed temporary files an interrupted write left behind"
        );
    }
    let queue = |name: &str, visibility: u64| {
        Arc::new(SqliteWorkQueue::new(
            db.clone(),
            name,
            QueueConfig {
                visibility_timeout: Duration::from_secs(visibility),
                max_receives: MAX_RECEIVES,
            },
        ))
    };
    let intake_queue = queue("intake", 60);
    // A full decode and re-encode takes longer than anything else the workers do.
    let sanitize_queue = queue("sanitize", 300);
    let review_tasks_queue = queue("review-tasks", 60);

    // This process is the queues' only consumer: what a killed predecessor had received is
    // handled again now, not after its visibility timeout.
    for queue in [&intake_queue, &sanitize_queue, &review_tasks_queue] {
        let released = queue.release_unacknowledged().await.with_context(|| {
            format!("releasing the {} queue's unfinished messages", queue.name())
        })?;
        if released > 0 {
            tracing::warn!(
                queue = queue.name(),
                released,
                "redelivering what the last run left unfinished"
            );
        }
    }

    let engine = Arc::new(
        EmbeddedWorkflow::open_review(
            db.clone(),
            REVIEW_ASL,
            sanitize_queue.clone(),
            review_tasks_queue.clone(),
            clock.clone(),
        )
        .await
        .context("starting the workflow engine")?,
    );
    let outbox = Arc::new(SqliteOutbox::new(db.clone(), clock.clone()));
    let webhooks = Arc::new(SqliteWebhooks::new(db.clone()));

    let keys = S3Keys::load_or_create(data)?;
    let target = S3Target::new(
        BUCKET,
        REGION,
        BucketEndpoint::choose(false, Some(&format!("{public_url}/s3")))?,
    )?;
    let signer = EndpointPresigner::new(target, &keys.access_key_id, &keys.secret_access_key)?;
    let mut endpoint_config = S3Config::new(
        BUCKET,
        REGION,
        Credentials {
            access_key_id: keys.access_key_id,
            secret_access_key: keys.secret_access_key,
        },
        data.join("spool").join("s3"),
        public_url.to_owned(),
    );
    endpoint_config.max_object_bytes = endpoint_config.max_object_bytes.max(largest_upload);
    let s3 = S3Endpoint::new(
        endpoint_config,
        objects.clone(),
        intake_queue.clone(),
        clock,
    )?;
    Ok(Pipeline {
        uploads: Arc::new(SqliteUploads::new(db.clone())),
        restaurants: Arc::new(SqliteRestaurants::new(db.clone())),
        audit: Arc::new(SqliteAudit::new(db.clone())),
        banned: Arc::new(SqliteBanned::new(db.clone())),
        objects,
        workflow: engine.clone(),
        events: outbox.clone(),
        signer: Arc::new(signer),
        multipart: s3.clone(),
        intake_queue,
        sanitize_queue,
        review_tasks_queue,
        bucket: BUCKET.to_owned(),
        dev_key: DevKey::load_or_create(data).context("dev key")?,
        notifications: Some(Arc::new(SqliteNotifications::new(db.clone()))),
        mailer: None,
        notify_queue: None,
        backend: Backend::Embedded {
            issuer: Arc::new(LocalIssuer::load_or_create(data).context("account signing key")?),
            db: db.clone(),
            engine,
            outbox,
            s3,
            webhooks,
        },
    })
}

/// The access key pair the upload endpoint checks signatures with: random, made on first
/// start, readable by this user only.
#[derive(Serialize, Deserialize)]
struct S3Keys {
    access_key_id: String,
    secret_access_key: String,
}

impl S3Keys {
    fn load_or_create(data: &Path) -> anyhow::Result<Self> {
        let path = data.join(CREDENTIALS_FILE);
        if let Ok(text) = std::fs::read_to_string(&path) {
            return serde_json::from_str(&text)
                .with_context(|| format!("reading {}", path.display()));
        }
        let keys = S3Keys {
            access_key_id: format!("VETTED{}", random_hex(7)?.to_uppercase()),
            secret_access_key: random_hex(20)?,
        };
        let temp = data.join(format!(".{CREDENTIALS_FILE}.tmp"));
        write_private(&temp, serde_json::to_string_pretty(&keys)?.as_bytes())?;
        std::fs::rename(&temp, &path).with_context(|| format!("writing {}", path.display()))?;
        Ok(keys)
    }
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("the OS refused random bytes: {e}"))?;
    Ok(hex::encode(buf))
}

fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}
