//! Reading back what the pipeline published: an EventBridge rule on its bus sends every Vetted
//! event to a queue made for the test.

use std::time::Instant;

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;
use vetted_aws::eventbridge::EVENT_SOURCE;
use vetted_core::UploadId;
use vetted_core::events::UploadEvent;

use crate::support::{PATIENCE, Pipeline, delete, receive};

/// An EventBridge rule on the pipeline's bus sending every Vetted event to a queue, from which
/// the tests read what was published.
pub struct EventTap {
    sqs: aws_sdk_sqs::Client,
    url: String,
    seen: Vec<UploadEvent>,
}

impl EventTap {
    pub async fn attach(pipeline: &Pipeline) -> Self {
        let (sqs, events) = (pipeline.ctx.sqs(), pipeline.ctx.eventbridge());
        let bus = &pipeline.resources.event_bus;
        let name = format!("{bus}-tap");
        let url = sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .unwrap();
        events
            .put_rule()
            .event_bus_name(bus)
            .name(&name)
            .event_pattern(serde_json::json!({ "source": [EVENT_SOURCE] }).to_string())
            .send()
            .await
            .unwrap();
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("tap")
            .arn(arn)
            .build()
            .unwrap();
        events
            .put_targets()
            .event_bus_name(bus)
            .rule(&name)
            .targets(target)
            .send()
            .await
            .unwrap();
        Self {
            sqs,
            url,
            seen: Vec::new(),
        }
    }

    /// Every event published for `upload` so far, waiting (bounded) until `want` of them
    /// have arrived.
    pub async fn events_for(&mut self, upload: &UploadId, want: usize) -> Vec<UploadEvent> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            for message in receive(&self.sqs, &self.url, 10).await {
                let envelope: Value = serde_json::from_str(message.body().unwrap()).unwrap();
                self.seen
                    .push(serde_json::from_value(envelope["detail"].clone()).unwrap());
                delete(&self.sqs, &self.url, &message).await;
            }
            let mine: Vec<UploadEvent> = self
                .seen
                .iter()
                .filter(|e| e.upload_id == *upload)
                .cloned()
                .collect();
            if mine.len() >= want || Instant::now() >= deadline {
                return mine;
            }
        }
    }
}
