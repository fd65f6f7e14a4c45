//! The differential test: `statemachine/review.asl.json` on Step Functions (the moto emulator)
//! and on the embedded engine, driven by the same scripted worker with the same inputs, must
//! enter the same states in the same order, send the same task messages, and end with the same
//! status, output, error and cause. Paths: approve, decline, withdrawn in review and while
//! sanitizing, sanitize rejected, review timeout (2 s), review escalation (stages of 2 s:
//! escalated twice then decided, escalated once then expired, and a decision answering the
//! token of a stage that has timed out), a task timeout retried then answered, catch
//! (`Vetted.Permanent`), timeout retries exhausted, and an answer the workflow does not
//! know. Both engines run the ASL with the
//! fixed timeouts of `Sanitize` and `Publish` shortened (`backends::review_asl`); the ASL
//! retries only `States.Timeout`, so that is how the retry paths are reached.
//!
//! What is deliberately not compared, and why:
//! 1. Task tokens: random on both engines by design. They are removed from the messages.
//! 2. The `Cause` of an error that a worker reported with `SendTaskFailure` (in the caught
//!    `error` object of the output and of the `record_failure` message): moto drops `cause`
//!    (see shared/AWS-LOCAL.md), Step Functions and the embedded engine keep it. It is
//!    replaced by a marker on both sides, and the embedded side is checked separately to
//!    carry the cause the worker sent. Errors the engines raise themselves (`States.Timeout`)
//!    are compared whole, `Cause` included.
//! 3. Timestamps, execution ARNs and history event ids: engine-specific, and not part of the
//!    outputs compared.
//! 4. Repeated task messages. moto re-sends a retried task with the same token as the attempt
//!    that timed out, and an answer to that token may time out all the same and close the next
//!    attempt instead, so moto can send a task once more than the script expects (Step
//!    Functions and the embedded engine issue a new token per attempt and wait for its
//!    answer). The scripted worker answers such a repeat as it
//!    answered the task before, and consecutive identical messages are collapsed before the
//!    message sequences are compared. The states entered, the status and the output are
//!    compared exactly; the embedded engine's exact attempt sequence is pinned down by the
//!    engine's own tests (`crates/embedded/tests/workflow_timers.rs`).
//! 5. Whether an answer to the token of a task that timed out is refused. Step Functions and
//!    the embedded engine refuse it (`TaskTimedOut`, so `TaskGone`); moto 5.2 accepts it
//!    (measured: `SendTaskSuccess` answers 200) and ignores it: the execution has moved on
//!    and enters the same states as on the embedded engine, which is compared. So the refusal
//!    is asserted on the embedded side only (`decision-races-a-stage-change`).
//!
//! Real waits: the timeouts (2 s for the review, 8 s per shortened task) and the Retry delays of
//! the ASL (2, 4, 8 s) run for real on both engines; the scenarios run concurrently, so the
//! test takes about 50 s.

mod backends;
mod scenarios;

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;
use vetted_core::ports::ReviewStart;
use vetted_core::review::EscalationShares;
use vetted_core::{ExecutionName, UploadId};

use backends::{Backend, Finished};
use scenarios::{Answer, Scenario, Transcript, Worker, scenarios, serve};

const CAUSE_MARKER: &str = "<cause reported by the worker>";
const LIMIT: Duration = Duration::from_secs(150);

/// Normalisation 2: the cause of a worker-reported error.
fn normalise(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out: serde_json::Map<String, Value> =
                map.iter().map(|(k, v)| (k.clone(), normalise(v))).collect();
            let worker_error = map
                .get("Error")
                .and_then(Value::as_str)
                .is_some_and(|e| !e.starts_with("States."));
            if worker_error && map.contains_key("Cause") {
                out.insert("Cause".to_owned(), Value::String(CAUSE_MARKER.to_owned()));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(normalise).collect()),
        other => other.clone(),
    }
}

struct Outcome {
    entered: Vec<String>,
    finished: Finished,
    transcript: Transcript,
}

async fn run(
    backend: &Backend,
    runs: &[(String, &Scenario)],
    uploads: &[UploadId],
) -> Vec<Outcome> {
    let (stop, stopping) = watch::channel(false);
    let worker = Worker::new(runs);
    let servers: Vec<_> = [backend.sanitize.clone(), backend.review_tasks.clone()]
        .into_iter()
        .map(|queue| {
            tokio::spawn(serve(
                worker.clone(),
                backend.workflow.clone(),
                queue,
                stopping.clone(),
            ))
        })
        .collect();
    for ((name, scenario), upload) in runs.iter().zip(uploads) {
        let input = ReviewStart {
            upload_id: *upload,
            review_timeout_seconds: scenario.review_timeout_seconds,
            review_stages: EscalationShares::new(scenario.escalation.to_vec())
                .expect("valid escalation points")
                .stages(scenario.review_timeout_seconds),
        };
        let name = ExecutionName::parse(name).expect("execution name");
        backend.workflow.start(&name, &input).await.expect("start");
    }
    let deadline = Instant::now() + LIMIT;
    let mut outcomes = Vec::new();
    for (name, _) in runs {
        let finished = loop {
            if let Some(finished) = backend.observer.finished(name).await {
                break finished;
            }
            assert!(
                Instant::now() < deadline,
                "{}: {name} did not finish within {LIMIT:?}",
                backend.label
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let entered = backend.observer.entered(name).await;
        outcomes.push(Outcome {
            entered,
            finished,
            transcript: worker.transcript(name),
        });
    }
    stop.send(true).expect("stop");
    for server in servers {
        server.await.expect("worker");
    }
    outcomes
}

/// The cause of the last failure the script reports before `record_failure`, if any.
fn reported_cause(scenario: &Scenario) -> Option<&'static str> {
    scenario
        .script
        .iter()
        .rev()
        .find_map(|(_, answer)| match answer {
            Answer::Failure(_, cause) => Some(*cause),
            _ => None,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_engine_runs_the_review_as_step_functions_does() {
    let Some(endpoint) = vetted_tests::aws_endpoint() else {
        return;
    };
    let run_id: String = UploadId::generate().to_string().replace('-', "")[20..].to_owned();
    let scenarios = scenarios();
    let runs: Vec<(String, &Scenario)> = scenarios
        .iter()
        .map(|s| (format!("diff-{}-{run_id}", s.key), s))
        .collect();
    let uploads: Vec<UploadId> = runs.iter().map(|_| UploadId::generate()).collect();

    let dir = tempfile::tempdir().expect("tempdir");
    let (stop_engine, engine_stopping) = watch::channel(false);
    let moto = backends::moto(&endpoint, &format!("diff-{run_id}")).await;
    let embedded = backends::embedded(dir.path(), engine_stopping).await;
    let (on_moto, on_embedded) =
        tokio::join!(run(&moto, &runs, &uploads), run(&embedded, &runs, &uploads));
    stop_engine.send(true).expect("stop engine");

    for (((_, scenario), m), e) in runs.iter().zip(&on_moto).zip(&on_embedded) {
        let key = scenario.key;
        // Normalisation 5: the embedded engine refuses a stale token; moto may not.
        assert!(
            e.transcript.stale_accepted.iter().all(|accepted| !accepted),
            "{key}: the embedded engine took an answer to a timed-out token"
        );
        assert_eq!(
            m.transcript.stale_accepted.len(),
            e.transcript.stale_accepted.len(),
            "{key}: the same stale answers tried"
        );
        for (label, outcome) in [("moto", m), ("embedded", e)] {
            assert!(
                outcome.transcript.problems.is_empty(),
                "{key} on {label}: {:?}",
                outcome.transcript.problems
            );
            assert_eq!(
                outcome.entered, scenario.entered,
                "{key} on {label}: states entered"
            );
            assert_eq!(
                outcome.finished.status, scenario.status,
                "{key} on {label}: {:?}",
                outcome.finished
            );
        }
        assert_eq!(
            m.entered, e.entered,
            "{key}: the same states in the same order"
        );
        let messages = |o: &Outcome| {
            let mut normalised: Vec<Value> = o.transcript.messages.iter().map(normalise).collect();
            normalised.dedup();
            normalised
        };
        assert_eq!(messages(m), messages(e), "{key}: the same task messages");
        let finished = |o: &Outcome| Finished {
            output: o.finished.output.as_ref().map(normalise),
            ..o.finished.clone()
        };
        assert_eq!(
            finished(m),
            finished(e),
            "{key}: the same end\nmoto: {:?}\nembedded: {:?}",
            m.finished,
            e.finished
        );

        // Normalisation 2, checked on the embedded side: the worker's cause is kept.
        if let Some(cause) = reported_cause(scenario) {
            let caught = e
                .transcript
                .messages
                .iter()
                .find(|m| m["task"] == "record_failure")
                .map(|m| &m["error"])
                .or_else(|| e.finished.output.as_ref().map(|o| &o["error"]));
            if let Some(caught) = caught.filter(|c| !c.is_null()) {
                assert_eq!(
                    caught["Cause"], cause,
                    "{key}: the embedded engine keeps the cause"
                );
            }
        }
    }
}
