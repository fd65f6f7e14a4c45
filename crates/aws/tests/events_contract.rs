//! The event sink contract on EventBridge (the moto emulator): events put on a bus reach an
//! SQS queue through a rule, and the suite reads them back from there.

mod common;

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;
use vetted_aws::eventbridge::{EVENT_SOURCE, EventBridgeEventSink};
use vetted_contract::events::{PublishedEvents, run_all};
use vetted_core::events::UploadEvent;

/// Reads the queue the bus's rule targets; each message's `detail` is one event.
struct RuleTarget {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

#[async_trait]
impl PublishedEvents for RuleTarget {
    async fn read_published(&self) -> Result<Vec<UploadEvent>, String> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|e| format!("receive: {e:?}"))?;
        let mut events = Vec::new();
        for message in output.messages.unwrap_or_default() {
            let envelope: Value = serde_json::from_str(message.body().unwrap_or_default())
                .map_err(|e| format!("not JSON: {e}"))?;
            if envelope["source"] != EVENT_SOURCE {
                return Err(format!("unexpected source in {envelope}"));
            }
            if envelope["detail-type"] != envelope["detail"]["type"] {
                return Err(format!("detail-type is not the event's type: {envelope}"));
            }
            let event = serde_json::from_value(envelope["detail"].clone())
                .map_err(|e| format!("detail is not an UploadEvent ({e}): {envelope}"))?;
            events.push(event);
            if let Some(receipt) = message.receipt_handle() {
                self.sqs
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .map_err(|e| format!("delete: {e:?}"))?;
            }
        }
        Ok(events)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventbridge_event_sink_passes_the_event_sink_contract() {
    let Some(ctx) = common::context().await else {
        return;
    };
    let (events, sqs) = (ctx.eventbridge(), ctx.sqs());
    let name = common::unique("events");
    events
        .create_event_bus()
        .name(&name)
        .send()
        .await
        .expect("create bus");
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url");
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue arn")
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .expect("queue arn");
    events
        .put_rule()
        .event_bus_name(&name)
        .name(&name)
        .event_pattern(serde_json::json!({ "source": [EVENT_SOURCE] }).to_string())
        .send()
        .await
        .expect("put rule");
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("contract")
        .arn(arn)
        .build()
        .expect("target");
    events
        .put_targets()
        .event_bus_name(&name)
        .rule(&name)
        .targets(target)
        .send()
        .await
        .expect("put targets");
    let sink = EventBridgeEventSink::new(events, &name);
    let target = RuleTarget { sqs, url };
    tokio::time::timeout(Duration::from_secs(120), run_all(&sink, &target))
        .await
        .expect("the suite finished");
}
