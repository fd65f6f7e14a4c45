//! The function as Lambda runs it, on moto: an event published to the bus reaches the queue
//! through a rule that matches every Vetted event, the queue's message (handed to the
//! function as the event source mapping would) becomes a delivery in DynamoDB, and the
//! delivery reaches a real receiver. Skipped without `VETTED_TEST_AWS_ENDPOINT`, failed under
//! `VETTED_TEST_REQUIRE_AWS=1`.

// Test code may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_sqs::types::QueueAttributeName;
use axum::Router;
use axum::http::HeaderMap;
use vetted_aws::bootstrap::{ensure_queue_pair, ensure_webhooks_table};
use vetted_aws::config::AwsContext;
use vetted_aws::dynamo::DynamoWebhooks;
use vetted_aws::eventbridge::{EVENT_SOURCE, EventBridgeEventSink};
use vetted_contract::events::sample_event;
use vetted_core::events::EventType;
use vetted_core::ports::{EventSink, Webhooks};
use vetted_core::webhooks::{DeliveryStatus, Endpoint, EndpointId, WebhookSecret};
use vetted_core::{Clock, SystemClock, UploadId};
use webhooks::{WebhooksFunction, lambda_settings};

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        UploadId::generate().to_string().replace('-', "")
    )
}

/// A receiver on 127.0.0.1 that answers 204 and keeps each request's `webhook-id`.
async fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let ids = Arc::new(Mutex::new(Vec::new()));
    let seen = ids.clone();
    let app = Router::new().fallback(move |headers: HeaderMap| {
        let seen = seen.clone();
        async move {
            let id = headers
                .get("webhook-id")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            seen.lock().unwrap().push(id);
            axum::http::StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_on_the_bus_reaches_the_receiver_through_the_queue_and_the_function() {
    let Some(endpoint_url) = vetted_contract::emulator::aws_endpoint() else {
        return;
    };
    let ctx = AwsContext::builder()
        .endpoint_url(endpoint_url)
        .region("us-east-1")
        .static_credentials("test", "test")
        .load()
        .await;
    // The template's wiring: bus, a rule for every Vetted event, the queue as its target.
    // moto (5.2, measured) puts the rule's events on the queue without any queue policy;
    // AWS needs WebhooksQueuePolicy, which tests/infra checks in the template.
    let bus = unique("bus");
    let events = ctx.eventbridge();
    events.create_event_bus().name(&bus).send().await.unwrap();
    let queue = ensure_queue_pair(&ctx, &unique("webhooks"), Duration::from_secs(30), 3)
        .await
        .unwrap();
    let sqs = ctx.sqs();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue.url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .unwrap();
    let pattern = serde_json::json!({ "source": [EVENT_SOURCE] });
    events
        .put_rule()
        .event_bus_name(&bus)
        .name("webhooks")
        .event_pattern(pattern.to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .event_bus_name(&bus)
        .rule("webhooks")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("webhooks-queue")
                .arn(queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let table = unique("webhooks");
    ensure_webhooks_table(&ctx, &table).await.unwrap();
    let store = Arc::new(DynamoWebhooks::new(ctx.dynamodb(), &table));
    let (url, seen) = receiver().await;
    let now = SystemClock.now();
    let endpoint = Endpoint {
        id: EndpointId::generate(),
        url,
        event_types: Vec::new(),
        restaurant: None,
        secret: WebhookSecret::from_key(&[7; 32]).unwrap(),
        previous_secret: None,
        previous_until: None,
        enabled: true,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    };
    store.create(&endpoint).await.unwrap();

    let event = sample_event(UploadId::generate(), EventType::UploadPublished);
    EventBridgeEventSink::new(ctx.eventbridge(), &bus)
        .publish(&event)
        .await
        .unwrap();
    let mut messages = Vec::new();
    for _ in 0..20 {
        let received = sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        messages.extend(received.messages.unwrap_or_default());
        if !messages.is_empty() {
            break;
        }
    }
    assert_eq!(messages.len(), 1, "the rule routed the event to the queue");
    let body = messages[0].body.clone().unwrap();

    // The receiver is on loopback, so this test lets the worker reach it; on Lambda the
    // guard is always on.
    let settings = vetted_webhooks::DeliverySettings {
        allow_private: true,
        ..lambda_settings()
    };
    let function = WebhooksFunction::over(store.clone(), Arc::new(SystemClock), settings).unwrap();
    let deadline = SystemTime::now() + Duration::from_secs(300);
    let batch = vetted_lambda::sqs::sqs_event(&[
        ("m1", body.as_str()),
        ("m2", body.as_str()),
        ("m3", "{}"),
    ]);
    let response = function.batch(batch, deadline).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m3"], "only the message that is no event fails");
    assert_eq!(
        *seen.lock().unwrap(),
        vec![event.id.clone()],
        "one delivery, however often the message came"
    );
    let deliveries = store.deliveries(&endpoint.id, 10).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, DeliveryStatus::Delivered);

    // A scheduled invocation finds nothing more to send.
    let scheduled =
        serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
    let answer = function.invoke(scheduled, deadline).await.unwrap();
    assert_eq!(answer, serde_json::json!({ "attempted": 0 }));
}
