//! What the contract suites cannot see: how events reach EventBridge rules, how SDK failures
//! map to retryable or permanent errors, and what the uploads table stores besides a record.

mod common;

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use vetted_aws::bootstrap::{ensure_queue_pair, ensure_table};
use vetted_aws::config::AwsContext;
use vetted_aws::dynamo::DynamoUploads;
use vetted_aws::eventbridge::{EVENT_SOURCE, EventBridgeEventSink};
use vetted_aws::s3::S3ObjectStore;
use vetted_aws::sfn::SfnReviewWorkflow;
use vetted_aws::sqs::SqsWorkQueue;
use vetted_core::events::{EventType, UploadEvent};
use vetted_core::media::MediaUrls;
use vetted_core::ports::{
    EventError, EventSink, ObjectStore, ReviewStart, ReviewStarter, StoreError, Uploads,
    UploadsError, WorkQueue, WorkflowError,
};
use vetted_core::record::{FileName, UploadMethod};
use vetted_core::{
    Decision, ExecutionName, ImageType, ObjectKey, OwnerId, RecordChanges, SlotRef, Status,
    TaskToken, Timestamp, Transition, UploadId, UploadRecord,
};

fn intent(owner: &str) -> UploadRecord {
    UploadRecord::new_intent(
        UploadId::generate(),
        OwnerId::parse(owner).expect("owner"),
        "r1/gallery-1".parse::<SlotRef>().expect("slot"),
        FileName::parse("logo.png").expect("filename"),
        ImageType::Png,
        1234,
        UploadMethod::Post,
        Timestamp::from_unix_millis(1_700_000_000_000),
        Timestamp::from_unix_millis(1_700_000_900_000),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_the_rules_that_match_their_detail_type() {
    let Some(ctx) = common::context().await else {
        return;
    };
    let bus = common::unique("bus");
    let events = ctx.eventbridge();
    events
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("bus");
    let urls = ensure_queue_pair(
        &ctx,
        &common::unique("published"),
        Duration::from_secs(30),
        3,
    )
    .await
    .expect("queue");
    let sqs = ctx.sqs();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&urls.url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue arn")
        .attributes
        .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .expect("queue arn");
    let pattern =
        serde_json::json!({"source": [EVENT_SOURCE], "detail-type": ["upload.published"]});
    events
        .put_rule()
        .event_bus_name(&bus)
        .name("published")
        .event_pattern(pattern.to_string())
        .send()
        .await
        .expect("rule");
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn(queue_arn)
        .build()
        .expect("target");
    events
        .put_targets()
        .event_bus_name(&bus)
        .rule("published")
        .targets(target)
        .send()
        .await
        .expect("target");

    let sink = EventBridgeEventSink::new(ctx.eventbridge(), &bus);
    let mut record = intent("owner-events");
    record.status = Status::Received;
    let received = UploadEvent::for_record(&record, &MediaUrls::Unserved).expect("received event");
    record.status = Status::Published;
    let published =
        UploadEvent::for_record(&record, &MediaUrls::Unserved).expect("published event");
    assert_eq!(published.event_type, EventType::UploadPublished);
    sink.publish(&received).await.expect("publish received");
    sink.publish(&published).await.expect("publish published");

    let queue = SqsWorkQueue::new(ctx.sqs(), &urls.url, &urls.dead_letter_url);
    let message = common::eventually(Duration::from_secs(20), "the routed event", || {
        let queue = &queue;
        async move {
            queue
                .receive(10, Duration::from_secs(1))
                .await
                .expect("receive")
                .pop()
        }
    })
    .await;
    let envelope: Value = serde_json::from_str(&message.body).expect("JSON");
    assert_eq!(envelope["detail-type"], "upload.published");
    assert_eq!(envelope["source"], EVENT_SOURCE);
    assert_eq!(
        envelope["detail"],
        serde_json::to_value(&published).expect("json")
    );
    queue.ack(&message.receipt).await.expect("ack");
    let rest = queue
        .receive(10, Duration::from_secs(1))
        .await
        .expect("receive");
    assert!(
        rest.is_empty(),
        "only upload.published matches the rule: {rest:?}"
    );
}

/// An emulator address nothing listens on: bound, then released.
fn closed_port_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_a_retryable_error() {
    let ctx = AwsContext::builder()
        .endpoint_url(closed_port_endpoint())
        .region("us-east-1")
        .static_credentials("test", "test")
        .load()
        .await;
    let store = S3ObjectStore::new(ctx.s3(), "any-bucket");
    let key = ObjectKey::sanitized(&UploadId::generate());
    match store.get(&key).await {
        Err(StoreError::Backend(e)) => {
            assert!(e.retryable, "connection refused must be retryable: {e}");
            assert_eq!(e.operation, "s3:GetObject");
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
    let uploads = DynamoUploads::new(ctx.dynamodb(), "any-table");
    match uploads.get(&UploadId::generate()).await {
        Err(UploadsError::Backend(e)) => assert!(e.retryable, "{e}"),
        other => panic!("expected a backend error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_resources_are_permanent_errors_that_say_what_is_missing() {
    let Some(ctx) = common::context().await else {
        return;
    };
    let key = ObjectKey::sanitized(&UploadId::generate());
    let store = S3ObjectStore::new(ctx.s3(), common::unique("no-such-bucket"));
    match store.get(&key).await {
        Err(StoreError::Backend(e)) => {
            assert!(!e.retryable, "a missing bucket is permanent: {e}");
            assert!(
                e.source.to_string().contains("NoSuchBucket"),
                "{e}: {}",
                e.source
            );
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
    let uploads = DynamoUploads::new(ctx.dynamodb(), common::unique("no-such-table"));
    match uploads.get(&UploadId::generate()).await {
        Err(UploadsError::Backend(e)) => {
            assert!(!e.retryable, "a missing table is permanent: {e}");
            assert!(
                e.source.to_string().contains("ResourceNotFound"),
                "{}",
                e.source
            );
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
    let missing_queue = format!(
        "{}/123456789012/{}",
        common::endpoint().expect("the context above was built from it"),
        common::unique("q")
    );
    let queue = SqsWorkQueue::new(ctx.sqs(), &missing_queue, &missing_queue);
    match queue.send("hello").await {
        Err(e) => assert!(!vetted_core::ports::Retryable::is_retryable(&e), "{e}"),
        Ok(()) => panic!("sending to a missing queue succeeded"),
    }
    let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:no-such-machine";
    let workflow = SfnReviewWorkflow::new(ctx.sfn(), machine);
    let name = ExecutionName::parse("review-x").expect("name");
    let input = ReviewStart {
        upload_id: UploadId::generate(),
        review_timeout_seconds: 60,
        review_stages: vetted_core::ports::ReviewStages::without_escalation(60),
    };
    match workflow.start(&name, &input).await {
        Err(WorkflowError::Backend(e)) => assert!(!e.retryable, "{e}"),
        other => panic!("expected a backend error, got {other:?}"),
    }
    let sink = EventBridgeEventSink::new(ctx.eventbridge(), common::unique("no-such-bus"));
    let mut record = intent("owner-x");
    record.status = Status::Received;
    let event = UploadEvent::for_record(&record, &MediaUrls::Unserved).expect("event");
    match sink.publish(&event).await {
        Err(EventError::Backend(e)) => assert!(!e.retryable, "{e}"),
        other => panic!("publishing to a missing bus must fail, got {other:?}"),
    }
}

async fn raw_item(
    ctx: &AwsContext,
    table: &str,
    id: UploadId,
) -> std::collections::HashMap<String, AttributeValue> {
    ctx.dynamodb()
        .get_item()
        .table_name(table)
        .key("id", AttributeValue::S(id.to_string()))
        .consistent_read(true)
        .send()
        .await
        .expect("get_item")
        .item
        .expect("item")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intents_carry_a_ttl_their_slot_and_tokens_live_in_their_own_attribute() {
    let Some(ctx) = common::context().await else {
        return;
    };
    let table = common::unique("items");
    ensure_table(&ctx, &table).await.expect("table");
    let uploads = DynamoUploads::new(ctx.dynamodb(), &table);
    let record = intent("owner-ttl");
    uploads.create(&record).await.expect("create");

    let item = raw_item(&ctx, &table, record.id).await;
    let day = 24 * 60 * 60;
    let expected_ttl = (record.expires_at.unix_seconds() + day).to_string();
    assert_eq!(item.get("ttl"), Some(&AttributeValue::N(expected_ttl)));
    assert_eq!(
        item.get("status"),
        Some(&AttributeValue::S("AWAITING_UPLOAD".into()))
    );
    assert_eq!(
        item.get("created_at"),
        Some(&AttributeValue::N(
            record.created_at.unix_millis().to_string()
        ))
    );
    assert_eq!(
        item.get("restaurant"),
        Some(&AttributeValue::S("r1".into()))
    );
    assert_eq!(
        item.get("slot"),
        Some(&AttributeValue::S("gallery-1".into()))
    );
    assert!(
        !item.contains_key("task_token")
            && !item.contains_key("width")
            && !item.contains_key("decided_at")
    );

    let at = |ms| Timestamp::from_unix_millis(ms);
    let received = Transition::new(
        Status::AwaitingUpload,
        Status::Received,
        at(1_700_000_001_000),
    )
    .expect("move");
    uploads
        .transition(&record.id, &received)
        .await
        .expect("received");
    let item = raw_item(&ctx, &table, record.id).await;
    assert!(
        !item.contains_key("ttl"),
        "a received upload must not expire: {item:?}"
    );

    let token = TaskToken::parse("secret-token").expect("token");
    let in_review = Transition::new(Status::Received, Status::InReview, at(1_700_000_002_000))
        .expect("move")
        .with(RecordChanges {
            task_token: Some(token.clone()),
            ..Default::default()
        });
    let stored = uploads
        .transition(&record.id, &in_review)
        .await
        .expect("in review");
    assert_eq!(stored.task_token, Some(token));
    let item = raw_item(&ctx, &table, record.id).await;
    assert_eq!(
        item.get("task_token"),
        Some(&AttributeValue::S("secret-token".into()))
    );

    let decided_at = at(1_700_000_002_500);
    let decided = Transition::new(Status::InReview, Status::Decided, decided_at)
        .expect("move")
        .with(RecordChanges {
            decision: Some(Decision::Approve),
            decided_at: Some(decided_at),
            ..Default::default()
        });
    let stored = uploads
        .transition(&record.id, &decided)
        .await
        .expect("decided");
    assert_eq!(stored.decided_at, Some(decided_at));
    assert_eq!(stored.target, record.target);
    let item = raw_item(&ctx, &table, record.id).await;
    assert_eq!(
        item.get("decided_at"),
        Some(&AttributeValue::N(decided_at.unix_millis().to_string())),
        "decided_at is an instant in Unix milliseconds, like the others"
    );

    let failed =
        Transition::new(Status::Decided, Status::Failed, at(1_700_000_003_000)).expect("move");
    uploads
        .transition(&record.id, &failed)
        .await
        .expect("failed");
    let item = raw_item(&ctx, &table, record.id).await;
    assert!(
        !item.contains_key("task_token"),
        "the token must go with the review: {item:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_uses_path_style_addressing_with_an_endpoint_override() {
    // `bucket.localhost` does not resolve: only path-style requests reach the emulator.
    let Some(endpoint) = common::endpoint() else {
        return;
    };
    let endpoint = endpoint.replace("127.0.0.1", "localhost");
    assert!(
        endpoint.contains("localhost"),
        "expected a loopback URL, got {endpoint}"
    );
    let ctx = AwsContext::builder()
        .endpoint_url(&endpoint)
        .region("us-east-1")
        .static_credentials("test", "test")
        .load()
        .await;
    let bucket = common::unique("path-style");
    vetted_aws::bootstrap::ensure_bucket(&ctx, &bucket)
        .await
        .expect("create bucket through localhost");
    let store = S3ObjectStore::new(ctx.s3(), &bucket);
    let key = ObjectKey::sanitized(&UploadId::generate());
    let meta = store
        .put(&key, bytes::Bytes::from_static(b"abc"), "image/png")
        .await
        .expect("put");
    assert!(meta.version.is_some(), "ensure_bucket turns versioning on");
    assert_eq!(store.get_range(&key, 1..3).await.expect("range"), "bc");
}

/// What the webhooks suite cannot see on `DynamoWebhooks`: claims made at the same moment
/// share nothing (the suite's claims are sequential), an enqueue to an endpoint that does not
/// exist stores nothing, and `delete` leaves no item behind, guards and pointers included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_webhook_claims_share_nothing_and_a_deleted_endpoint_leaves_no_item() {
    use vetted_aws::bootstrap::ensure_webhooks_table;
    use vetted_aws::dynamo::DynamoWebhooks;
    use vetted_core::ports::Webhooks;
    use vetted_core::webhooks::{Delivery, Endpoint, EndpointId, WebhookSecret};

    let Some(ctx) = common::context().await else {
        return;
    };
    let table = common::unique("webhooks");
    ensure_webhooks_table(&ctx, &table)
        .await
        .expect("create table");
    let store = DynamoWebhooks::new(ctx.dynamodb(), &table);
    let now = Timestamp::from_unix_millis(1_900_000_000_000);
    let endpoint = Endpoint {
        id: EndpointId::generate(),
        url: "https://hooks.example/race".to_owned(),
        event_types: vec![],
        restaurant: None,
        secret: WebhookSecret::from_key(&[3; 32]).expect("secret"),
        previous_secret: None,
        previous_until: None,
        enabled: true,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    };
    store.create(&endpoint).await.expect("create endpoint");
    let delivery = |endpoint: EndpointId| {
        let event =
            vetted_contract::events::sample_event(UploadId::generate(), EventType::UploadPublished);
        Delivery::new(endpoint, &event, "{}".to_owned(), now)
    };
    let mut enqueued = Vec::new();
    for _ in 0..20 {
        let d = delivery(endpoint.id);
        assert!(store.enqueue(&d).await.expect("enqueue"));
        enqueued.push(d.id);
    }
    let stranger = delivery(EndpointId::generate());
    assert!(
        !store.enqueue(&stranger).await.expect("enqueue"),
        "no delivery to an endpoint that does not exist"
    );

    let lease = Duration::from_secs(60);
    let (a, b) = tokio::join!(
        store.claim_due(now, lease, 1000),
        store.claim_due(now, lease, 1000)
    );
    let (a, b) = (a.expect("claim a"), b.expect("claim b"));
    assert!(
        a.iter().all(|x| b.iter().all(|y| x.id != y.id)),
        "two claims got the same delivery: {} and {} claimed",
        a.len(),
        b.len()
    );
    let mut all: Vec<_> = a.iter().chain(&b).map(|d| d.id).collect();
    all.sort();
    enqueued.sort();
    assert_eq!(all, enqueued, "together they claimed every delivery once");

    assert!(store.delete(&endpoint.id).await.expect("delete"));
    let left = ctx
        .dynamodb()
        .scan()
        .table_name(&table)
        .consistent_read(true)
        .send()
        .await
        .expect("scan");
    assert_eq!(left.count(), 0, "items left: {:?}", left.items());
}
