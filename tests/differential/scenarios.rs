//! The scripted runs and the worker that plays them: for each execution, the task messages it
//! expects in order and how it answers each (success with an output, failure with an error
//! and cause, or silence so that the task times out).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;
use vetted_core::TaskToken;
use vetted_core::ports::{ReviewWorkflow, WorkQueue, WorkflowError};

#[derive(Debug, Clone)]
pub enum Answer {
    Success(Value),
    Failure(&'static str, &'static str),
    /// No answer: the task must time out.
    Silence,
    /// First answer the last silenced task of this execution (whose stage has timed out,
    /// since this task came) with `stale`, which must be refused as `TaskGone`, then answer
    /// this task with `then`: a moderator's decision racing an escalation stage change.
    AfterStale {
        stale: Value,
        then: Value,
    },
}

pub struct Scenario {
    pub key: &'static str,
    pub review_timeout_seconds: u64,
    /// The escalation points, in percent of the review timeout (none: one await stage).
    pub escalation: &'static [u8],
    /// Each task message the execution sends, in order, with the worker's answer.
    pub script: Vec<(&'static str, Answer)>,
    /// The states it must enter on both engines.
    pub entered: Vec<&'static str>,
    pub status: &'static str,
}

fn ok(value: Value) -> Answer {
    Answer::Success(value)
}

pub fn scenarios() -> Vec<Scenario> {
    let mut all: Vec<Scenario> = review_scenarios().into_iter().map(scanned_clean).collect();
    all.extend(scan_scenarios());
    all
}

/// Every review starts with the scan: the review scenarios below begin at Sanitize, so each
/// is played after a clean scan.
fn scanned_clean(mut scenario: Scenario) -> Scenario {
    let clean = ok(json!({ "verdict": "clean", "scan": "clean" }));
    scenario.script.insert(0, ("scan", clean));
    scenario.entered.splice(0..0, ["Scan", "ScanVerdict"]);
    scenario
}

/// The scan's outcomes: clean (every review scenario), infected and unsupported (the worker
/// has made the record REJECTED and answers `rejected`), error (the worker has made it FAILED
/// and reports `Vetted.Permanent`), and a scan task that never answers (after its retries,
/// `ScanNoAnswer` sends it to RecordFailure, never on to Sanitize).
fn scan_scenarios() -> Vec<Scenario> {
    use Answer::{Failure, Silence};
    let rejected = |reason: &str| ok(json!({ "verdict": "rejected", "reason": reason }));
    vec![
        Scenario {
            key: "scan-infected",
            review_timeout_seconds: 300,
            escalation: &[],
            script: vec![("scan", rejected("infected"))],
            entered: vec!["Scan", "ScanVerdict", "Rejected"],
            status: "SUCCEEDED",
        },
        Scenario {
            key: "scan-unsupported",
            review_timeout_seconds: 300,
            escalation: &[],
            script: vec![("scan", rejected("scan_unsupported"))],
            entered: vec!["Scan", "ScanVerdict", "Rejected"],
            status: "SUCCEEDED",
        },
        Scenario {
            key: "scan-withdrawn",
            review_timeout_seconds: 300,
            escalation: &[],
            script: vec![("scan", ok(json!({ "verdict": "withdrawn" })))],
            entered: vec!["Scan", "ScanVerdict", "Withdrawn"],
            status: "SUCCEEDED",
        },
        Scenario {
            key: "scan-error",
            review_timeout_seconds: 300,
            escalation: &[],
            script: vec![
                (
                    "scan",
                    Failure("Vetted.Permanent", "scan_failed: clamd did not answer"),
                ),
                ("record_failure", ok(json!({ "status": "FAILED" }))),
            ],
            entered: vec!["Scan", "RecordFailure", "Failed"],
            status: "FAILED",
        },
        Scenario {
            key: "scan-timeout",
            review_timeout_seconds: 300,
            escalation: &[],
            script: vec![
                ("scan", Silence),
                ("scan", Silence),
                ("scan", Silence),
                ("record_failure", ok(json!({ "status": "FAILED" }))),
            ],
            entered: vec!["Scan", "ScanNoAnswer", "RecordFailure", "Failed"],
            status: "FAILED",
        },
        Scenario {
            key: "scan-no-verdict",
            review_timeout_seconds: 300,
            escalation: &[],
            script: vec![
                ("scan", ok(json!({ "scan": "clean" }))),
                ("record_failure", ok(json!({ "status": "FAILED" }))),
            ],
            entered: vec![
                "Scan",
                "ScanVerdict",
                "UnexpectedAnswer",
                "RecordFailure",
                "Failed",
            ],
            status: "FAILED",
        },
    ]
}

/// The review after a clean scan.
fn review_scenarios() -> Vec<Scenario> {
    use Answer::{Failure, Silence};
    let clean = || ok(json!({ "verdict": "clean", "width": 640, "height": 480 }));
    vec![
        Scenario {
            key: "approve",
            review_timeout_seconds: 300,
            escalation: &[],
            script: vec![
                ("sanitize", clean()),
                ("await_decision", ok(json!({ "decision": "approve" }))),
                ("publish", ok(json!({ "status": "PUBLISHED" }))),
            ],
            entered: vec![
                "Sanitize",
                "SanitizeVerdict",
                "AwaitDecision",
                "Decided",
                "Publish",
                "Published",
            ],
            status: "SUCCEEDED",
        },
        Scenario {
            key: "decline",
            review_timeout_seconds: 300,
            escalation: &[],
            script: vec![
                ("sanitize", clean()),
                ("await_decision", ok(json!({ "decision": "decline" }))),
                ("decline", ok(json!({ "status": "DECLINED" }))),
            ],
            entered: vec![
                "Sanitize",
                "SanitizeVerdict",
                "AwaitDecision",
                "Decided",
                "Decline",
                "Declined",
            ],
            status: "SUCCEEDED",
        },
        Scenario {
            key: "rejected",
            review_timeout_seconds: 300,
            escalation: &[],
            script: vec![(
                "sanitize",
                ok(json!({ "verdict": "rejected", "reason": "type_mismatch" })),
            )],
            entered: vec!["Sanitize", "SanitizeVerdict", "Rejected"],
            status: "SUCCEEDED",
        },
        // An owner withdrew the request while it was in review: the waiting task is answered
        // `withdraw`, and the review ends without a further task.
        Scenario {
            key: "withdraw-in-review",
            review_timeout_seconds: 300,
            escalation: &[],
            script: vec![
                ("sanitize", clean()),
                ("await_decision", ok(json!({ "decision": "withdraw" }))),
            ],
            entered: vec![
                "Sanitize",
                "SanitizeVerdict",
                "AwaitDecision",
                "Decided",
                "Withdrawn",
            ],
            status: "SUCCEEDED",
        },
        // Withdrawn while sanitize ran: the step answers `withdrawn` and the review ends.
        Scenario {
            key: "withdraw-while-sanitizing",
            review_timeout_seconds: 300,
            escalation: &[],
            script: vec![("sanitize", ok(json!({ "verdict": "withdrawn" })))],
            entered: vec!["Sanitize", "SanitizeVerdict", "Withdrawn"],
            status: "SUCCEEDED",
        },
        Scenario {
            key: "timeout",
            review_timeout_seconds: 2,
            escalation: &[],
            script: vec![
                ("sanitize", clean()),
                ("await_decision", Silence),
                ("expire", ok(json!({ "status": "EXPIRED" }))),
            ],
            entered: vec![
                "Sanitize",
                "SanitizeVerdict",
                "AwaitDecision",
                "AfterStage0",
                "Expire",
                "Expired",
            ],
            status: "SUCCEEDED",
        },
        // Escalation: the review waits in three stages (2 s each), escalating twice, and the
        // decision comes in the last stage.
        Scenario {
            key: "escalate-then-decide",
            review_timeout_seconds: 6,
            escalation: &[34, 67],
            script: vec![
                ("sanitize", clean()),
                ("await_decision", Silence),
                ("escalate", ok(json!({ "escalated": 1 }))),
                ("await_decision", Silence),
                ("escalate", ok(json!({ "escalated": 2 }))),
                ("await_decision", ok(json!({ "decision": "approve" }))),
                ("publish", ok(json!({ "status": "PUBLISHED" }))),
            ],
            entered: vec![
                "Sanitize",
                "SanitizeVerdict",
                "AwaitDecision",
                "AfterStage0",
                "Escalate1",
                "AwaitDecisionLevel1",
                "AfterStage1",
                "Escalate2",
                "AwaitDecisionLevel2",
                "Decided",
                "Publish",
                "Published",
            ],
            status: "SUCCEEDED",
        },
        // One escalation, then nobody decides: the last stage's timeout expires the review.
        Scenario {
            key: "escalate-then-expire",
            review_timeout_seconds: 4,
            escalation: &[50],
            script: vec![
                ("sanitize", clean()),
                ("await_decision", Silence),
                ("escalate", ok(json!({ "escalated": 1 }))),
                ("await_decision", Silence),
                ("expire", ok(json!({ "status": "EXPIRED" }))),
            ],
            entered: vec![
                "Sanitize",
                "SanitizeVerdict",
                "AwaitDecision",
                "AfterStage0",
                "Escalate1",
                "AwaitDecisionLevel1",
                "AfterStage1",
                "Expire",
                "Expired",
            ],
            status: "SUCCEEDED",
        },
        // A decision answers the first stage's token after that stage timed out: the engine
        // refuses it (TaskGone), and the next stage's task is answered with the decision, as
        // its worker does when it finds the record DECIDED.
        Scenario {
            key: "decision-races-a-stage-change",
            review_timeout_seconds: 4,
            escalation: &[50],
            script: vec![
                ("sanitize", clean()),
                ("await_decision", Silence),
                (
                    "escalate",
                    Answer::AfterStale {
                        stale: json!({ "decision": "decline" }),
                        then: json!({ "escalated": 1 }),
                    },
                ),
                ("await_decision", ok(json!({ "decision": "decline" }))),
                ("decline", ok(json!({ "status": "DECLINED" }))),
            ],
            entered: vec![
                "Sanitize",
                "SanitizeVerdict",
                "AwaitDecision",
                "AfterStage0",
                "Escalate1",
                "AwaitDecisionLevel1",
                "Decided",
                "Decline",
                "Declined",
            ],
            status: "SUCCEEDED",
        },
        // The ASL retries only States.Timeout (workers never send a retryable error: see
        // vetted_core::review::WORKER_ERRORS), so a retry is a task left unanswered.
        Scenario {
            key: "retry",
            review_timeout_seconds: 300,
            escalation: &[],
            script: vec![
                ("sanitize", Silence),
                ("sanitize", clean()),
                ("await_decision", ok(json!({ "decision": "approve" }))),
                ("publish", Silence),
                ("publish", ok(json!({ "status": "PUBLISHED" }))),
            ],
            entered: vec![
                "Sanitize",
                "SanitizeVerdict",
                "AwaitDecision",
                "Decided",
                "Publish",
                "Published",
            ],
            status: "SUCCEEDED",
        },
        Scenario {
            key: "catch",
            review_timeout_seconds: 300,
            escalation: &[],
            script: vec![
                (
                    "sanitize",
                    Failure("Vetted.Permanent", "the uploaded object is gone"),
                ),
                ("record_failure", ok(json!({ "status": "FAILED" }))),
            ],
            entered: vec!["Sanitize", "RecordFailure", "Failed"],
            status: "FAILED",
        },
        Scenario {
            key: "exhausted",
            review_timeout_seconds: 300,
            escalation: &[],
            script: vec![
                ("sanitize", Silence),
                ("sanitize", Silence),
                ("sanitize", Silence),
                ("sanitize", Silence),
                ("record_failure", ok(json!({ "status": "FAILED" }))),
            ],
            entered: vec!["Sanitize", "RecordFailure", "Failed"],
            status: "FAILED",
        },
        Scenario {
            key: "unexpected",
            review_timeout_seconds: 300,
            escalation: &[],
            script: vec![
                ("sanitize", ok(json!({ "verdict": "maybe" }))),
                ("record_failure", ok(json!({ "status": "FAILED" }))),
            ],
            entered: vec![
                "Sanitize",
                "SanitizeVerdict",
                "UnexpectedAnswer",
                "RecordFailure",
                "Failed",
            ],
            status: "FAILED",
        },
        Scenario {
            key: "no-verdict",
            review_timeout_seconds: 300,
            escalation: &[],
            script: vec![
                ("sanitize", ok(json!({}))),
                ("record_failure", ok(json!({ "status": "FAILED" }))),
            ],
            entered: vec![
                "Sanitize",
                "SanitizeVerdict",
                "UnexpectedAnswer",
                "RecordFailure",
                "Failed",
            ],
            status: "FAILED",
        },
    ]
}

/// What the worker saw of one execution.
#[derive(Debug, Default, Clone)]
pub struct Transcript {
    /// Task message bodies, without their task token.
    pub messages: Vec<Value>,
    /// Anything off-script: a task that was not expected, an answer that was refused.
    pub problems: Vec<String>,
    /// For each `Answer::AfterStale`: whether the engine accepted the answer to the timed-out
    /// token (`false`: it said `TaskGone`). See normalisation 5 in `main.rs`.
    pub stale_accepted: Vec<bool>,
}

/// One execution's script and how far it has got.
struct Play {
    script: Vec<(&'static str, Answer)>,
    next: usize,
    /// The last task answered, and how.
    last: Option<(&'static str, Answer)>,
    /// The token of the last task left unanswered.
    silenced: Option<TaskToken>,
    transcript: Transcript,
}

/// Plays the scripts of one engine's executions.
pub struct Worker {
    plays: Mutex<HashMap<String, Play>>,
}

impl Worker {
    pub fn new(runs: &[(String, &Scenario)]) -> Arc<Worker> {
        let plays = runs
            .iter()
            .map(|(name, s)| {
                let play = Play {
                    script: s.script.clone(),
                    next: 0,
                    last: None,
                    silenced: None,
                    transcript: Transcript::default(),
                };
                (name.clone(), play)
            })
            .collect();
        Arc::new(Worker {
            plays: Mutex::new(plays),
        })
    }

    pub fn transcript(&self, name: &str) -> Transcript {
        self.plays.lock().expect("the worker panicked")[name]
            .transcript
            .clone()
    }

    /// What to do with one message: the token and the answer, if the script has one.
    ///
    /// A message for the task just answered, when the script expects another, is answered
    /// as that task was: moto re-sends a retried task with the same token (normalisation 4).
    fn next(&self, body: &Value) -> Option<(TaskToken, Answer, bool, Option<TaskToken>)> {
        let name = body["execution"].as_str()?;
        let mut plays = self.plays.lock().expect("the worker panicked");
        let play = plays.get_mut(name)?;
        let mut shown = body.clone();
        let token = shown.as_object_mut()?.remove("task_token")?;
        play.transcript.messages.push(shown);
        let token = TaskToken::parse(token.as_str()?).ok()?;
        let task = body["task"].as_str().unwrap_or_default();
        if let Some((expected, answer)) = play.script.get(play.next).cloned()
            && expected == task
        {
            play.next += 1;
            play.last = Some((expected, answer.clone()));
            let stale = if matches!(answer, Answer::Silence) {
                play.silenced = Some(token.clone());
                None
            } else {
                play.silenced.take()
            };
            return Some((token, answer, false, stale));
        }
        if let Some((last, answer)) = play.last.clone()
            && last == task
        {
            return Some((token, answer, true, None));
        }
        play.transcript
            .problems
            .push(format!("unscripted message {body}"));
        None
    }

    fn stale(&self, body: &Value, accepted: bool) {
        let name = body["execution"].as_str().unwrap_or_default();
        if let Some(play) = self
            .plays
            .lock()
            .expect("the worker panicked")
            .get_mut(name)
        {
            play.transcript.stale_accepted.push(accepted);
        }
    }

    fn problem(&self, body: &Value, problem: String) {
        let name = body["execution"].as_str().unwrap_or_default();
        if let Some(play) = self
            .plays
            .lock()
            .expect("the worker panicked")
            .get_mut(name)
        {
            play.transcript.problems.push(problem);
        }
    }
}

/// Answers task messages from `queue` until `stop` says true.
pub async fn serve(
    worker: Arc<Worker>,
    workflow: Arc<dyn ReviewWorkflow>,
    queue: Arc<dyn WorkQueue>,
    stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let messages = queue
            .receive(10, Duration::from_secs(1))
            .await
            .expect("receive");
        for message in messages {
            queue.ack(&message.receipt).await.expect("ack");
            let body: Value = serde_json::from_str(&message.body).expect("task messages are JSON");
            let Some((token, answer, repeat, silenced)) = worker.next(&body) else {
                continue;
            };
            let answered = match &answer {
                Answer::Success(output) => workflow.send_task_success(&token, output).await,
                Answer::AfterStale { stale, then } => {
                    match silenced {
                        Some(silenced) => {
                            match workflow.send_task_success(&silenced, stale).await {
                                Err(WorkflowError::TaskGone) => worker.stale(&body, false),
                                Ok(()) => worker.stale(&body, true),
                                Err(e) => worker.problem(&body, format!("the stale answer: {e}")),
                            }
                        }
                        None if !repeat => {
                            worker.problem(&body, "no silenced task to answer late".to_owned());
                        }
                        None => {}
                    }
                    workflow.send_task_success(&token, then).await
                }
                Answer::Failure(error, cause) => {
                    workflow.send_task_failure(&token, error, cause).await
                }
                Answer::Silence => Ok(()),
            };
            match answered {
                Ok(()) => {}
                // A repeat may find its (reused) token already closed.
                Err(WorkflowError::TaskGone) if repeat => {}
                Err(e) => worker.problem(&body, format!("answering {answer:?} failed: {e}")),
            }
        }
    }
}
