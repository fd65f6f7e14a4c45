//! The maintenance function on moto, composed exactly as its Lambda composes it: one pass
//! handles an upload stored whose notification was never handled (left unread on the intake
//! queue, as a lost notification would be), expires an intent whose deadline passed unused,
//! and leaves a fresh intent alone.

use std::time::Duration;

use maintenance::{Config, Maintenance};
use vetted_core::{Clock, ImageType, ReasonCode, Status, SystemClock, Timestamp};

use crate::support::{Pipeline, function_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_pass_recovers_a_lost_notification_and_expires_a_stale_intent() {
    let Some(pipeline) = Pipeline::start("maint").await else {
        return;
    };
    let now = SystemClock.now();
    let minutes_ago = |m: i64| Timestamp::from_unix_millis(now.unix_millis() - m * 60_000);
    let png = vetted_samples::images::png(200, 100);
    let lost = pipeline
        .intent_at(
            ImageType::Png,
            png.len() as u64,
            minutes_ago(3),
            now.saturating_add(Duration::from_secs(300)),
        )
        .await;
    pipeline.put(lost.key.as_str(), png, "image/png").await;
    let stale = pipeline
        .intent_at(ImageType::Png, 1000, minutes_ago(10), minutes_ago(5))
        .await;
    let fresh = pipeline.intent(ImageType::Png, 1000).await;

    let function = Maintenance::new(
        &pipeline.ctx,
        Config {
            intake: function_config(&pipeline.resources),
            grace: Duration::from_secs(60),
        },
    );
    let report = function.run().await.expect("a complete pass");
    assert!(report.failures.is_empty(), "{report:?}");

    let recovered = pipeline.record(&lost.id).await;
    assert_eq!(recovered.status, Status::Received, "{recovered:?}");
    assert_eq!((recovered.width, recovered.height), (Some(200), Some(100)));
    let execution = recovered.execution_name.expect("its review started");
    let started = pipeline.executions().await;
    assert!(
        started.iter().any(|e| e.name() == execution.as_str()),
        "no execution {execution} in {started:?}"
    );
    let expired = pipeline.record(&stale.id).await;
    assert_eq!(expired.status, Status::Expired);
    assert_eq!(expired.reason, Some(ReasonCode::IntentExpired));
    assert_eq!(
        pipeline.record(&fresh.id).await.status,
        Status::AwaitingUpload,
        "a fresh intent is left to its upload"
    );
    assert_eq!(report.intents.recovered, 1, "{report:?}");
    assert_eq!(report.intents.expired, 1, "{report:?}");

    // The notification arriving late now finds the upload already handled.
    let second = function.run().await.unwrap();
    assert_eq!(second.intents.recovered + second.intents.expired, 0);
}
