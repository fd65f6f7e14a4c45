//! The port contract suites, run on the AWS adapters against the emulator.
//!
//! Each suite gets resources of its own (a fresh bucket, table or queue pair), created with
//! the same functions `vetted aws bootstrap` uses, so the suites also check that setup.
//!
//! One accommodation, for moto and not for our adapter: moto's DynamoDB checks a condition and
//! then writes without a lock, so two `UpdateItem`s racing on one item can both pass the same
//! condition (measured: about half of 30 rounds of 12 racing boto3 updates had two winners).
//! DynamoDB itself applies a conditional write atomically. The uploads suite therefore runs on
//! [`OneTransitionAtATime`], which lets the real adapter make every call but never two
//! transitions at once; the race check still verifies that the losers get `Conflict` with
//! the winner's status and that the stored record is the winner's.

mod common;

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Mutex;
use vetted_aws::bootstrap::{ensure_bucket, ensure_queue_pair, ensure_table};
use vetted_aws::dynamo::DynamoUploads;
use vetted_aws::s3::S3ObjectStore;
use vetted_aws::sqs::SqsWorkQueue;
use vetted_contract::queue::QueueUnderTest;
use vetted_core::ports::{Page, PageRequest, Uploads, UploadsError};
use vetted_core::{OwnerId, Status, Transition, UploadId, UploadRecord};

/// Delegates every call to the adapter, holding a lock around `transition` (see the top).
struct OneTransitionAtATime {
    inner: DynamoUploads,
    transitions: Mutex<()>,
}

#[async_trait]
impl Uploads for OneTransitionAtATime {
    async fn create(&self, record: &UploadRecord) -> Result<(), UploadsError> {
        self.inner.create(record).await
    }

    async fn get(&self, id: &UploadId) -> Result<UploadRecord, UploadsError> {
        self.inner.get(id).await
    }

    async fn transition(
        &self,
        id: &UploadId,
        transition: &Transition,
    ) -> Result<UploadRecord, UploadsError> {
        let _one_at_a_time = self.transitions.lock().await;
        self.inner.transition(id, transition).await
    }

    async fn list_by_owner(
        &self,
        owner: &OwnerId,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        self.inner.list_by_owner(owner, page).await
    }

    async fn list_by_status(
        &self,
        status: Status,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        self.inner.list_by_status(status, page).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_object_store_passes_the_object_store_contract() {
    let ctx = common::context().await;
    let bucket = common::unique("objects");
    ensure_bucket(&ctx, &bucket).await.expect("create bucket");
    let store = S3ObjectStore::new(ctx.s3(), &bucket);
    vetted_contract::objects::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_uploads_passes_the_uploads_contract() {
    let ctx = common::context().await;
    let table = common::unique("uploads");
    ensure_table(&ctx, &table).await.expect("create table");
    let uploads = OneTransitionAtATime {
        inner: DynamoUploads::new(ctx.dynamodb(), &table),
        transitions: Mutex::new(()),
    };
    vetted_contract::uploads::run_all(&uploads).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_work_queue_passes_the_queue_contract() {
    let ctx = common::context().await;
    let visibility_timeout = Duration::from_secs(1);
    let max_receives = 3;
    let urls = ensure_queue_pair(
        &ctx,
        &common::unique("queue"),
        visibility_timeout,
        max_receives,
    )
    .await
    .expect("create queues");
    let queue = SqsWorkQueue::new(ctx.sqs(), &urls.url, &urls.dead_letter_url);
    vetted_contract::queue::run_all(QueueUnderTest {
        queue: &queue,
        visibility_timeout,
        max_receives,
    })
    .await;
}
