//! The workflow contract on the embedded engine: the real review ASL over SQLite queues.

// Test code, helpers included: a failed unwrap is a failed assertion.
#![allow(clippy::unwrap_used)]

mod wf_support;

use std::sync::Arc;

use vetted_contract::workflow::{WorkflowUnderTest, run_all};
use vetted_core::SystemClock;
use wf_support::{Rig, review_asl};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_workflow_passes_the_workflow_contract() {
    let dir = tempfile::tempdir().unwrap();
    let rig = Rig::open(
        &dir.path().join("vetted.db"),
        &review_asl(),
        Arc::new(SystemClock),
    )
    .await;
    run_all(WorkflowUnderTest {
        workflow: &rig.engine,
        sanitize: &rig.sanitize,
        review_tasks: &rig.review_tasks,
        rejects_answered_tokens: true,
    })
    .await;
}
