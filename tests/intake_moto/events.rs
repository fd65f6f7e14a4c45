//! Reading back what the pipeline published: an EventBridge rule on its bus sends every Vetted
//! event to a queue made for the test.

use std::time::Instant;

use serde_json::Value;
use vetted_core::UploadId;
use vetted_core::events::UploadEvent;

use crate::event_tap;
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
        let url = event_tap::attach(&pipeline.ctx, &pipeline.resources.event_bus).await;
        Self {
            sqs: pipeline.ctx.sqs(),
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
