//! The port contract suites, run on the AWS adapters against the emulator.
//!
//! Each suite gets resources of its own (a fresh bucket, table or queue pair), created with
//! the same functions `vetted aws bootstrap` uses, so the suites also check that setup.
//!
//! moto's DynamoDB checks a condition and then writes without a lock, so two racing
//! conditional writes could both win there, where DynamoDB applies each atomically.
//! `scripts/moto_server.py` (which `scripts/test` runs) serialises moto's DynamoDB writes, so
//! the race check here holds the adapter to the guarantee DynamoDB really gives.

mod common;

use std::time::Duration;

use vetted_aws::bootstrap::{
    ensure_bucket, ensure_notifications_table, ensure_queue_pair, ensure_restaurants_table,
    ensure_table, ensure_webhooks_table,
};
use vetted_aws::dynamo::{DynamoNotifications, DynamoRestaurants, DynamoUploads, DynamoWebhooks};
use vetted_aws::presign::S3Presigner;
use vetted_aws::s3::S3ObjectStore;
use vetted_aws::s3_multipart::S3Multipart;
use vetted_aws::sqs::SqsWorkQueue;
use vetted_contract::queue::QueueUnderTest;
use vetted_core::presign::{BucketEndpoint, S3Target};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_object_store_passes_the_object_store_contract() {
    let Some(ctx) = common::context().await else {
        return;
    };
    let bucket = common::unique("objects");
    ensure_bucket(&ctx, &bucket).await.expect("create bucket");
    let store = S3ObjectStore::new(ctx.s3(), &bucket);
    vetted_contract::objects::run_all(&store).await;
}

/// Plain moto stores a part whatever its `x-amz-checksum-sha256` says and names its ListParts
/// answer so that the SDK cannot read it; `scripts/moto_server.py` closes both gaps (see its
/// header). moto's ListParts still reports no `ChecksumSHA256`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_multipart_passes_the_multipart_contract() {
    let Some(ctx) = common::context().await else {
        return;
    };
    let endpoint = common::endpoint().expect("the emulator's URL");
    let bucket = common::unique("multipart");
    ensure_bucket(&ctx, &bucket).await.expect("create bucket");
    let target = S3Target::new(
        &bucket,
        "us-east-1",
        BucketEndpoint::PathStyle { base_url: endpoint },
    )
    .unwrap();
    let signer = S3Presigner::new(ctx.sdk_config(), target).unwrap();
    let multipart = S3Multipart::new(ctx.s3(), &bucket);
    let objects = S3ObjectStore::new(ctx.s3(), &bucket);
    vetted_contract::multipart::run_all(&vetted_contract::multipart::MultipartStore {
        multipart: &multipart,
        signer: &signer,
        objects: &objects,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_uploads_passes_the_uploads_contract() {
    let Some(ctx) = common::context().await else {
        return;
    };
    let table = common::unique("uploads");
    ensure_table(&ctx, &table).await.expect("create table");
    let uploads = DynamoUploads::new(ctx.dynamodb(), &table);
    vetted_contract::uploads::run_all(&uploads).await;
}

/// Where moto 5.2.5 and DynamoDB differ for this suite, measured on this machine:
/// - Races: on plain `moto_server` the racing-offers check failed in 5 runs of 5 (both offers
///   answered `BecameLive` at revision 1); through `scripts/moto_server.py` it passed 5 of 5.
/// - The `by-user` index: moto answers from the table itself, so 200 of 200 queries right
///   after a put saw the new member. DynamoDB's index lags; the suite waits for
///   `restaurants_of` and so allows it, but moto never exercises that wait.
/// - `BatchGetItem` never leaves keys unprocessed on moto (a batch of 100 came back whole),
///   so the adapter's retry of `UnprocessedKeys` runs only on DynamoDB.
/// - The same as DynamoDB (so the suite does test them): the operands of one `SET` are the
///   item before the update, and a failed condition returns the item with
///   `ReturnValuesOnConditionCheckFailure=ALL_OLD` (none when there was no item).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_restaurants_passes_the_restaurants_contract() {
    let Some(ctx) = common::context().await else {
        return;
    };
    let table = common::unique("restaurants");
    ensure_restaurants_table(&ctx, &table)
        .await
        .expect("create table");
    let restaurants = DynamoRestaurants::new(ctx.dynamodb(), &table);
    vetted_contract::restaurants::run_all(&restaurants).await;
}

/// Where moto 5.2.5 and DynamoDB differ for this suite, measured on this machine (boto3
/// against the same moto, 200 writes each):
/// - The `due` index: moto answers index queries from the table itself. A delivery put with
///   `due` was found by the index query right after, 200 of 200; one whose `due` was just
///   removed was gone from it, 200 of 200. DynamoDB's index lags, so there `claim_due` may
///   miss a delivery that just became due (a later call claims it) or propose one that just
///   stopped being due (its conditional write refuses it). The suite claims right after
///   enqueueing, recording and retrying, so on DynamoDB it would need to wait for the index;
///   on moto that lag is never exercised. As on DynamoDB, a consistent read of the index is
///   refused (`ValidationException`).
/// - The same as DynamoDB (so the suite does test them): a cancelled `TransactWriteItems`
///   lists a `ConditionalCheckFailed` reason per failed item, which is how `enqueue` tells a
///   repeated event from a conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_webhooks_passes_the_webhooks_contract() {
    let Some(ctx) = common::context().await else {
        return;
    };
    let table = common::unique("webhooks");
    ensure_webhooks_table(&ctx, &table)
        .await
        .expect("create table");
    let webhooks = DynamoWebhooks::new(ctx.dynamodb(), &table);
    vetted_contract::webhooks::run_all(&webhooks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_work_queue_passes_the_queue_contract() {
    let Some(ctx) = common::context().await else {
        return;
    };
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_notifications_passes_the_notifications_contract() {
    let Some(ctx) = common::context().await else {
        return;
    };
    let table = common::unique("notifications");
    ensure_notifications_table(&ctx, &table)
        .await
        .expect("create notifications table");
    let store = DynamoNotifications::new(ctx.dynamodb(), &table);
    vetted_contract::notifications::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_invitations_pass_the_invitations_contract() {
    let Some(ctx) = common::context().await else {
        return;
    };
    // Invitations live in the restaurants table, beside restaurants and members.
    let table = common::unique("restaurants");
    ensure_restaurants_table(&ctx, &table)
        .await
        .expect("create restaurants table");
    let store = vetted_aws::dynamo::DynamoInvitations::new(ctx.dynamodb(), &table);
    vetted_contract::invitations::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_audit_passes_the_audit_contract() {
    let Some(ctx) = common::context().await else {
        return;
    };
    // The audit trail lives in the restaurants table.
    let table = common::unique("restaurants");
    ensure_restaurants_table(&ctx, &table)
        .await
        .expect("create restaurants table");
    let trail = vetted_aws::dynamo::DynamoAudit::new(ctx.dynamodb(), &table);
    vetted_contract::audit::run_all(&trail).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_banned_passes_the_banned_contract() {
    let Some(ctx) = common::context().await else {
        return;
    };
    // The banned-content list lives in the restaurants table.
    let table = common::unique("restaurants");
    ensure_restaurants_table(&ctx, &table)
        .await
        .expect("create restaurants table");
    let banned = vetted_aws::dynamo::DynamoBanned::new(ctx.dynamodb(), &table);
    vetted_contract::banned::run_all(&banned).await;
}
