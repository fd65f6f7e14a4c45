//! A poison message: a body that is not JSON keeps failing, alone, until the intake queue's
//! redrive policy moves it to the dead-letter queue; the uploads in its batches are handled.
//!
//! The loop below is the event source mapping's: receive a batch, invoke the function, delete
//! the messages it did not report as failed, and let the rest come back after the (short)
//! visibility timeout.

use std::time::{Duration, Instant};

use vetted_core::{ImageType, Status};

use crate::support::{PATIENCE, Pipeline, delete, failed_ids, receive};

const POISON: &str = "this is not JSON {";
const MAX_RECEIVES: u32 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_dead_lettered_while_its_batch_mates_succeed() {
    let Some(pipeline) = Pipeline::start_with("poison", |options| {
        options.intake_visibility = Duration::from_secs(1);
        options.max_receives = MAX_RECEIVES;
    })
    .await
    else {
        return;
    };
    let (sqs, queue) = (&pipeline.sqs, &pipeline.resources.intake);
    sqs.send_message()
        .queue_url(&queue.url)
        .message_body(POISON)
        .send()
        .await
        .unwrap();
    let mut intents = Vec::new();
    for width in [100, 200, 300] {
        let png = vetted_samples::images::png(width, 100);
        let intent = pipeline.intent(ImageType::Png, png.len() as u64).await;
        pipeline.put(intent.key.as_str(), png, "image/png").await;
        intents.push(intent);
    }

    let deadline = Instant::now() + PATIENCE;
    let (mut poison_failures, mut other_failures) = (0, Vec::new());
    let mut dead_letters = Vec::new();
    loop {
        let batch = receive(sqs, &queue.url, 10).await;
        if !batch.is_empty() {
            let failed = failed_ids(&pipeline.invoke(&batch).await);
            for message in &batch {
                let body = message.body().unwrap_or_default();
                if !failed
                    .iter()
                    .any(|id| Some(id.as_str()) == message.message_id())
                {
                    delete(sqs, &queue.url, message).await;
                } else if body == POISON {
                    poison_failures += 1;
                } else {
                    other_failures.push(body.to_owned());
                }
            }
        }
        dead_letters.extend(receive(sqs, &queue.dead_letter_url, 10).await);
        let mut all_received = true;
        for intent in &intents {
            all_received &= pipeline.record(&intent.id).await.status == Status::Received;
        }
        if all_received && !dead_letters.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after {PATIENCE:?}: {} dead letters, uploads all received: {all_received}",
            dead_letters.len()
        );
    }

    let dead: Vec<&str> = dead_letters.iter().filter_map(|m| m.body()).collect();
    assert_eq!(dead, [POISON], "only the poison message is dead-lettered");
    assert_eq!(
        poison_failures, MAX_RECEIVES,
        "it failed on every receive, and was never acknowledged"
    );
    assert_eq!(other_failures, Vec::<String>::new());
    assert_eq!(pipeline.executions().await.len(), intents.len());
    assert!(
        receive(sqs, &queue.url, 10).await.is_empty(),
        "nothing is left on the intake queue"
    );
}
