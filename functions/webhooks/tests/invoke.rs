//! The function's one entry point with the JSON Lambda hands it, over a SQLite store (the
//! handler is the same whatever keeps the deliveries): an SQS batch, shaped as the event
//! source mapping sends it, is answered with `batchItemFailures` naming only the message that
//! is not a Vetted event, and a scheduled event with the number of deliveries attempted.

// Test code may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use vetted_contract::events::sample_event;
use vetted_core::events::EventType;
use vetted_core::ports::Webhooks;
use vetted_core::webhooks::{DeliveryStatus, Endpoint, EndpointId, WebhookSecret};
use vetted_core::{Clock, SystemClock, UploadId};
use vetted_embedded::db::Db;
use vetted_embedded::sqlite_webhooks::SqliteWebhooks;
use webhooks::{WebhooksFunction, lambda_settings};

/// One SQS record as Lambda delivers it.
fn record(id: &str, body: &str) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("handle-{id}"),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1767225600000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1767225600001"
        },
        "messageAttributes": {},
        "md5OfBody": "0",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:vetted-webhooks",
        "awsRegion": "eu-west-1"
    })
}

#[tokio::test]
async fn a_batch_reports_only_what_failed_and_a_schedule_says_what_it_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteWebhooks::new(
        Db::open(dir.path().join("vetted.db")).await.unwrap(),
    ));
    let now = SystemClock.now();
    // Unreachable by design: the guard refuses the address, so the attempt fails at once
    // and nothing leaves this machine.
    let endpoint = Endpoint {
        id: EndpointId::generate(),
        url: "https://127.0.0.1:9/hook".to_owned(),
        event_types: Vec::new(),
        restaurant: None,
        secret: WebhookSecret::from_key(&[3; 32]).unwrap(),
        previous_secret: None,
        previous_until: None,
        enabled: true,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    };
    store.create(&endpoint).await.unwrap();
    let function =
        WebhooksFunction::over(store.clone(), Arc::new(SystemClock), lambda_settings()).unwrap();
    let deadline = SystemTime::now() + Duration::from_secs(300);

    let event = sample_event(UploadId::generate(), EventType::SlotChanged);
    let envelope = json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "slot.changed",
        "source": "vetted",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": event
    });
    let batch = json!({"Records": [
        record("good", &envelope.to_string()),
        record("bad", "{\"not\": \"an event\"}"),
    ]});
    let answer = function.invoke(batch, deadline).await.unwrap();
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "bad"}]})
    );
    let deliveries = store.deliveries(&endpoint.id, 10).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].event_id, event.id);
    assert_eq!(
        deliveries[0].status,
        DeliveryStatus::Failed,
        "the guard refused the loopback address"
    );
    assert!(
        deliveries[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("loopback")
    );

    let scheduled = json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-01-01T00:01:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/vetted-webhooks-retries"],
        "detail": {}
    });
    let answer = function.invoke(scheduled, deadline).await.unwrap();
    assert_eq!(answer, json!({"attempted": 0}));
}
