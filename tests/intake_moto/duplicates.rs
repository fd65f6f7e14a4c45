//! At-least-once delivery: the same notification, handled again and again and at the same
//! time, starts exactly one review and leaves one consistent record.

use std::collections::BTreeSet;

use vetted_core::intake::execution_name;
use vetted_core::{ImageType, Status, UploadRecord};

use crate::support::{Pipeline, failed_ids};

/// The record is `RECEIVED`, names the execution derived from its version, and says what the
/// gate measured.
fn assert_received_once(record: &UploadRecord, width: u32, height: u32) -> String {
    assert_eq!(record.status, Status::Received);
    assert_eq!((record.width, record.height), (Some(width), Some(height)));
    let version = record.object_version.clone().expect("version recorded");
    let execution = execution_name(&record.id, &version);
    assert_eq!(record.execution_name.as_ref(), Some(&execution));
    execution.as_str().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_notification_delivered_many_times_starts_one_review() {
    let Some(pipeline) = Pipeline::start("dups").await else {
        return;
    };

    // Three deliveries of one notification, one after another.
    let jpeg = vetted_samples::images::jpeg(320, 240);
    let first = pipeline.intent(ImageType::Jpeg, jpeg.len() as u64).await;
    pipeline.put(first.key.as_str(), jpeg, "image/jpeg").await;
    let notification = pipeline.notifications(1).await;
    for delivery in 1..=3 {
        let response = pipeline.invoke(&notification).await;
        assert_eq!(
            failed_ids(&response),
            Vec::<String>::new(),
            "delivery {delivery}"
        );
    }

    // Two deliveries at once: twice in one batch (the handler runs a batch's messages
    // concurrently), and two invocations racing each other.
    let png = vetted_samples::images::png(200, 100);
    let second = pipeline.intent(ImageType::Png, png.len() as u64).await;
    pipeline.put(second.key.as_str(), png, "image/png").await;
    let notification = pipeline.notifications(1).await;
    let mut twice = vec![notification[0].clone(), notification[0].clone()];
    twice[1].message_id = Some("a-second-delivery".to_owned());
    let (batch, racer) = tokio::join!(pipeline.invoke(&twice), pipeline.invoke(&notification));
    assert_eq!(failed_ids(&batch), Vec::<String>::new());
    assert_eq!(failed_ids(&racer), Vec::<String>::new());

    let expected: BTreeSet<String> = [
        assert_received_once(&pipeline.record(&first.id).await, 320, 240),
        assert_received_once(&pipeline.record(&second.id).await, 200, 100),
    ]
    .into();
    let executions = pipeline.executions().await;
    let started: Vec<String> = executions.iter().map(|e| e.name().to_owned()).collect();
    assert_eq!(started.len(), 2, "one execution per upload: {started:?}");
    assert_eq!(started.into_iter().collect::<BTreeSet<_>>(), expected);
}
