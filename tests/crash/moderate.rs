//! The moderators' side of the crash test: bursts of decisions through the review API, every
//! answer written down, so that the checks know which decisions took effect.
//!
//! A burst reads the pending queue and decides, all at once, every accepted upload whose plan
//! says so; the test kills the server right after some bursts. A decision whose request died
//! with the server is unknown: after the restart the same moderator sends it again, as a
//! person would, and the answer (recorded, or already decided) settles what happened.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

use crate::jobs::Plan;
use crate::load::{Run, lock};

/// How one decision request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 200 (delivered) or 202 (recorded, delivery pending).
    Recorded(u16),
    /// A refusal, with its reason code.
    Refused(u16, String),
    /// The connection died with the server: the decision may or may not have been recorded.
    Lost,
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub moderator: usize,
    pub decision: &'static str,
    pub reason: Option<&'static str>,
    pub outcome: Outcome,
}

/// Every decision request made, per upload.
#[derive(Default)]
pub struct Ledger {
    attempts: Mutex<BTreeMap<String, Vec<Attempt>>>,
    tried: Mutex<BTreeSet<String>>,
    in_flight: tokio::sync::Mutex<JoinSet<()>>,
}

impl Ledger {
    pub fn attempts(&self) -> BTreeMap<String, Vec<Attempt>> {
        lock(&self.attempts).clone()
    }

    fn record(&self, upload_id: &str, attempt: Attempt) {
        lock(&self.attempts)
            .entry(upload_id.to_owned())
            .or_default()
            .push(attempt);
    }

    /// Waits until every decision request sent so far has its answer.
    pub async fn settle(&self) {
        let mut in_flight = self.in_flight.lock().await;
        while let Some(done) = in_flight.join_next().await {
            if let Err(error) = done
                && error.is_panic()
            {
                std::panic::resume_unwind(error.into_panic());
            }
        }
    }
}

/// One burst: every pending, accepted upload with a plan, decided at once. Returns how many
/// decision requests it started (0 when the server could not be reached).
pub async fn burst(run: &Arc<Run>, ledger: &Arc<Ledger>) -> usize {
    let base = run.base();
    let mut pending = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let token = &run.moderators[0].1;
        let Ok(page) = run.api.reviews(&base, token, after.as_deref()).await else {
            return 0;
        };
        if page.status != 200 {
            run.surprise(format!(
                "GET /api/reviews answered {}: {}",
                page.status, page.body
            ));
            return 0;
        }
        for item in page.body["items"].as_array().into_iter().flatten() {
            pending.push(item["upload_id"].as_str().unwrap_or_default().to_owned());
        }
        match page.body["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let mut started = 0;
    let mut in_flight = ledger.in_flight.lock().await;
    for upload_id in pending {
        let Some(plan) = run
            .is_accepted(&upload_id)
            .then(|| run.job_of(&upload_id).map(|job| job.plan))
            .flatten()
        else {
            continue;
        };
        let requests: Vec<(usize, &'static str, Option<&'static str>)> = match plan {
            Plan::Leave => continue,
            Plan::Approve => vec![(0, "approve", None)],
            Plan::Decline(reason) => vec![(1, "decline", Some(reason))],
            Plan::Race => vec![(0, "approve", None), (1, "decline", Some("copyright"))],
        };
        if !lock(&ledger.tried).insert(upload_id.clone()) {
            continue;
        }
        for (moderator, decision, reason) in requests {
            started += 1;
            let (run, ledger, base, id) =
                (run.clone(), ledger.clone(), base.clone(), upload_id.clone());
            in_flight.spawn(async move {
                let outcome = decide(&run, &base, &id, moderator, decision, reason).await;
                ledger.record(
                    &id,
                    Attempt {
                        moderator,
                        decision,
                        reason,
                        outcome,
                    },
                );
            });
        }
    }
    started
}

/// After the last restart: sends every decision whose request died again, once, by the same
/// moderator, and records the answer. Returns how many it sent.
pub async fn resend_lost(run: &Arc<Run>, ledger: &Arc<Ledger>) -> usize {
    let base = run.base();
    let mut resent = 0;
    for (upload_id, attempts) in ledger.attempts() {
        let settled = attempts
            .iter()
            .any(|a| matches!(a.outcome, Outcome::Recorded(_)));
        if settled {
            continue;
        }
        for lost in attempts.iter().filter(|a| a.outcome == Outcome::Lost) {
            let outcome = decide(
                run,
                &base,
                &upload_id,
                lost.moderator,
                lost.decision,
                lost.reason,
            )
            .await;
            resent += 1;
            ledger.record(
                &upload_id,
                Attempt {
                    outcome,
                    ..lost.clone()
                },
            );
        }
    }
    resent
}

async fn decide(
    run: &Run,
    base: &str,
    upload_id: &str,
    moderator: usize,
    decision: &str,
    reason: Option<&str>,
) -> Outcome {
    let token = &run.moderators[moderator].1;
    match run
        .api
        .decide(base, token, upload_id, decision, reason)
        .await
    {
        Ok(answer) if answer.status == 200 || answer.status == 202 => {
            if answer.body["status"] != "DECIDED" || answer.body["decision"] != decision {
                run.surprise(format!("deciding {upload_id}: {}", answer.body));
            }
            Outcome::Recorded(answer.status)
        }
        Ok(answer) if answer.status >= 500 => Outcome::Lost,
        Ok(answer) => Outcome::Refused(answer.status, answer.reason().to_owned()),
        Err(_) => Outcome::Lost,
    }
}
