//! The two stores the suite runs on, each a fresh one per check: SQLite in a temporary
//! directory, and DynamoDB on moto in a table of its own (the worker claims whatever in its
//! table is due, so checks must not share one).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use tempfile::TempDir;
use vetted_aws::bootstrap::ensure_webhooks_table;
use vetted_aws::config::AwsContext;
use vetted_aws::dynamo::DynamoWebhooks;
use vetted_core::UploadId;
use vetted_core::ports::Webhooks;
use vetted_embedded::db::Db;
use vetted_embedded::sqlite_webhooks::SqliteWebhooks;

/// Where one check's store lives. [`Place::open`] answers a new handle on the same data each
/// time, as a restarted process would get.
#[async_trait]
pub trait Place: Send + Sync {
    async fn open(&self) -> Arc<dyn Webhooks>;
}

pub struct SqlitePlace {
    path: PathBuf,
    _dir: TempDir,
}

#[async_trait]
impl Place for SqlitePlace {
    async fn open(&self) -> Arc<dyn Webhooks> {
        Arc::new(SqliteWebhooks::new(Db::open(&self.path).await.unwrap()))
    }
}

/// A fresh SQLite store; always available.
pub async fn sqlite() -> Option<Box<dyn Place>> {
    let dir = tempfile::tempdir().unwrap();
    Some(Box::new(SqlitePlace {
        path: dir.path().join("vetted.db"),
        _dir: dir,
    }))
}

pub struct DynamoPlace {
    ctx: AwsContext,
    table: String,
}

#[async_trait]
impl Place for DynamoPlace {
    async fn open(&self) -> Arc<dyn Webhooks> {
        Arc::new(DynamoWebhooks::new(self.ctx.dynamodb(), &self.table))
    }
}

/// A fresh table on moto; `None` (skipped) without `VETTED_TEST_AWS_ENDPOINT`, a failure
/// instead under `VETTED_TEST_REQUIRE_AWS=1`.
///
/// Measured on moto 5.2: its GSIs answer from the table at once (the sparse `due` index lists
/// a delivery as soon as it carries `due` and drops it as soon as `due` is removed), so these
/// checks never meet the lag DynamoDB's index has. There the index only proposes and the
/// conditional claim decides, which the contract suite's claim checks cover.
pub async fn dynamo() -> Option<Box<dyn Place>> {
    let endpoint = vetted_contract::emulator::aws_endpoint()?;
    let ctx = AwsContext::builder()
        .endpoint_url(endpoint)
        .region("us-east-1")
        .static_credentials("test", "test")
        .load()
        .await;
    let id = UploadId::generate().to_string().replace('-', "");
    let table = format!("webhooks-{id}");
    ensure_webhooks_table(&ctx, &table).await.unwrap();
    Some(Box::new(DynamoPlace { ctx, table }))
}
