//! The workflow contract on Step Functions (the moto emulator executing the real review ASL),
//! with the state machine and queues created by `vetted_aws::bootstrap`.

mod common;

use std::time::Duration;

use vetted_aws::bootstrap::{BootstrapOptions, bootstrap};
use vetted_contract::workflow::{WorkflowUnderTest, run_all};

const REVIEW_ASL: &str = include_str!("../../../statemachine/review.asl.json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sfn_review_workflow_passes_the_workflow_contract() {
    let Some(ctx) = common::context().await else {
        return;
    };
    let prefix = common::unique("wf");
    let mut options = BootstrapOptions::new(&prefix, REVIEW_ASL);
    options.sanitize_visibility = Duration::from_secs(30);
    options.review_tasks_visibility = Duration::from_secs(30);
    let resources = bootstrap(&ctx, &options).await.expect("bootstrap");
    let workflow = resources.workflow(&ctx);
    let sanitize = resources.queue(&ctx, &resources.sanitize);
    let review_tasks = resources.queue(&ctx, &resources.review_tasks);
    run_all(WorkflowUnderTest {
        workflow: &workflow,
        sanitize: &sanitize,
        review_tasks: &review_tasks,
        // moto keeps answered tokens and accepts a second answer (AWS answers TaskTimedOut).
        rejects_answered_tokens: false,
    })
    .await;
}
