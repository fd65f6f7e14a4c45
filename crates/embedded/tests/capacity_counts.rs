//! The counts `docs/CAPACITY.md` prices, taken from real runs of the review workflow on the
//! embedded engine (the real ASL, the real core workers): for each path an upload can take
//! (approved, declined, expired without escalation, expired after both default escalations),
//! how many state transitions its execution made (states entered, as Step Functions bills
//! them), how many tasks it scheduled (each an SQS message to a worker and an answer back),
//! and how many domain events it announced (each one EventBridge entry on AWS).
//!
//! With `VETTED_CAPACITY_COUNTS_OUT=path` the counts are written there as JSON, for
//! `scripts/capacity --counts path`; `docs/capacity-counts.json` is such a file.

// Test code: a failed unwrap is a failed assertion.
#![allow(clippy::unwrap_used)]

mod wf_support;

use serde_json::{Value, json};
use vetted_core::record::DeclineReason;
use vetted_core::review::EscalationShares;
use vetted_core::{Decision, ModeratorId, Status, UploadId};
use wf_support::pipeline::Pipeline;

fn moderator() -> ModeratorId {
    ModeratorId::parse("mod-1").unwrap()
}

/// What one execution did, from its history and the outbox.
async fn counts(pipeline: &Pipeline, id: &UploadId, name: &str) -> Value {
    let history = pipeline.rig.engine.history(name).await.unwrap();
    let entered: Vec<String> = history
        .iter()
        .filter(|e| e.is_state_entered())
        .filter_map(|e| e.state.clone())
        .collect();
    let tasks = history
        .iter()
        .filter(|e| e.event_type == "TaskScheduled")
        .count();
    let events: Vec<String> = pipeline
        .outbox
        .events_for(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type.as_str().to_owned())
        .collect();
    json!({
        "state_transitions": entered.len(),
        "states_entered": entered,
        "tasks_scheduled": tasks,
        // Intake announces upload.received before the review starts; the harness starts
        // reviews directly, so that one is added here.
        "events": events.len() + 1,
        "event_types": events,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transitions_of_each_review_path_are_counted_from_real_runs() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::start(dir.path()).await;
    let png = || vetted_samples::images::png(320, 200);

    let (approved, approved_name) = pipeline.submit(png(), 320, 200, 300).await;
    pipeline.wait_for(&approved, Status::InReview).await;
    pipeline
        .review
        .decide(approved, moderator(), Decision::Approve, None)
        .await
        .unwrap();
    pipeline.wait_for(&approved, Status::Published).await;
    pipeline.rig.finished(approved_name.as_str()).await;

    let (declined, declined_name) = pipeline.submit(png(), 320, 200, 300).await;
    pipeline.wait_for(&declined, Status::InReview).await;
    pipeline
        .review
        .decide(
            declined,
            moderator(),
            Decision::Decline,
            Some(DeclineReason::LowQuality),
        )
        .await
        .unwrap();
    pipeline.wait_for(&declined, Status::Declined).await;
    pipeline.rig.finished(declined_name.as_str()).await;

    let (expired, expired_name) = pipeline.submit(png(), 320, 200, 1).await;
    pipeline.wait_for(&expired, Status::Expired).await;
    pipeline.rig.finished(expired_name.as_str()).await;

    // The default escalation (50 % and 90 % of the deadline) on a 10 s deadline: 5 s, 4 s, 1 s.
    let stages = EscalationShares::default().stages(10);
    assert_eq!(stages.escalation_levels, 2);
    let (escalated, escalated_name) = pipeline.submit_staged(png(), 320, 200, 10, stages).await;
    pipeline.wait_for(&escalated, Status::Expired).await;
    pipeline.rig.finished(escalated_name.as_str()).await;

    let report = json!({
        "source": "crates/embedded/tests/capacity_counts.rs: the embedded engine's history of real runs",
        "paths": {
            "approved": counts(&pipeline, &approved, approved_name.as_str()).await,
            "declined": counts(&pipeline, &declined, declined_name.as_str()).await,
            "expired": counts(&pipeline, &expired, expired_name.as_str()).await,
            "expired_after_escalations": counts(&pipeline, &escalated, escalated_name.as_str()).await,
        }
    });
    pipeline.stop().await;

    let paths = &report["paths"];
    let transitions = |path: &str| paths[path]["state_transitions"].as_u64().unwrap();
    for (path, last) in [
        ("approved", "Published"),
        ("declined", "Declined"),
        ("expired", "Expired"),
        ("expired_after_escalations", "Expired"),
    ] {
        let entered = paths[path]["states_entered"].as_array().unwrap();
        assert_eq!(entered.last(), Some(&json!(last)), "{path}: {report:#}");
        assert_eq!(transitions(path), entered.len() as u64);
    }
    assert!(
        transitions("expired_after_escalations") > transitions("expired"),
        "two escalations enter more states: {report:#}"
    );
    for path in [
        "approved",
        "declined",
        "expired",
        "expired_after_escalations",
    ] {
        assert!(
            paths[path]["tasks_scheduled"].as_u64().unwrap() >= 2,
            "{path}: sanitize and await at least: {report:#}"
        );
    }
    let text = serde_json::to_string_pretty(&report).unwrap();
    println!("{text}");
    if let Ok(out) = std::env::var("VETTED_CAPACITY_COUNTS_OUT") {
        std::fs::write(&out, format!("{text}\n")).unwrap();
    }
}
