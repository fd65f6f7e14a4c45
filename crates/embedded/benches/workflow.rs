//! The time from a moderator's decision to the review reaching `Published`, on one machine:
//! `Review::decide` (conditional write, then `send_task_success` on the embedded engine), the
//! engine moving to `Publish` and sending its task, the core worker taking it off the SQLite
//! queue, copying the sanitized image and answering, and the engine entering `Published`.
//!
//! Each iteration prepares an upload that waits for a decision (untimed: intake's record,
//! the sanitize task), then times the decision until the execution has succeeded. Besides
//! criterion's report, the bench prints the median and p99 of the individual decisions.

#[path = "../tests/wf_support/mod.rs"]
mod wf_support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use vetted_core::{Decision, ModeratorId, Status};
use vetted_embedded::workflow::ExecutionStatus;
use wf_support::pipeline::Pipeline;

fn decision_to_published(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let pipeline = runtime.block_on(Pipeline::start(dir.path()));
    let image = vetted_samples::images::png(64, 64);
    let moderator = ModeratorId::parse("bench-moderator").expect("moderator");
    let samples: Mutex<Vec<Duration>> = Mutex::new(Vec::new());

    let mut group = c.benchmark_group("review_workflow");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(15));
    group.bench_function("decision_to_published", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (id, name) = pipeline.submit(image.clone(), 64, 64, 300).await;
                    pipeline.wait_for(&id, Status::InReview).await;
                    let started = Instant::now();
                    pipeline
                        .review
                        .decide(id, moderator.clone(), Decision::Approve, None)
                        .await
                        .expect("decide");
                    loop {
                        let described = pipeline.rig.describe(name.as_str()).await;
                        if described.status != ExecutionStatus::Running {
                            assert_eq!(described.status, ExecutionStatus::Succeeded);
                            break;
                        }
                        tokio::task::yield_now().await;
                    }
                    let took = started.elapsed();
                    samples.lock().expect("samples").push(took);
                    total += took;
                }
                total
            })
        });
    });
    group.finish();

    let mut all = samples.into_inner().expect("samples");
    all.sort();
    let at = |q: f64| all[((all.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "decision_to_published over {} decisions: median {:.2?}, p99 {:.2?}, max {:.2?}",
        all.len(),
        at(0.5),
        at(0.99),
        all[all.len() - 1]
    );
    runtime.block_on(pipeline.stop());
}

criterion_group!(benches, decision_to_published);
criterion_main!(benches);
