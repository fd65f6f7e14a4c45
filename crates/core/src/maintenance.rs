//! One maintenance pass: finds what the event-driven path left unfinished and finishes it.
//!
//! Notifications can be lost and workers can die between two steps, so three kinds of record
//! can wait forever without it: intents whose object was stored but never announced (or whose
//! deadline passed with nothing uploaded), uploads intake claimed but did not finish, and
//! decisions recorded whose answer never reached the workflow. `vetted serve` runs a pass at
//! start-up and every 30 s; on AWS the maintenance function runs one on a schedule.
//!
//! Each part runs even when another failed; a part that failed is named in the report, and a
//! record a part could not handle is counted there and tried again by the next pass.

use std::time::Duration;

use serde::Serialize;
use tracing::{info, warn};

use crate::intake::{Intake, SweepReport};
use crate::review::Review;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MaintenanceReport {
    /// Intents awaiting their upload: stored objects handled, stale intents expired.
    pub intents: SweepReport,
    /// Uploads intake claimed (`RECEIVED`) but did not finish.
    pub claimed: SweepReport,
    /// Decisions sent to the workflow again.
    pub decisions_redelivered: usize,
    /// The parts that failed as a whole (a backend unreachable), with why.
    pub failures: Vec<String>,
}

impl MaintenanceReport {
    /// Whether anything was done or went wrong, i.e. whether the pass is worth a log line.
    pub fn is_eventful(&self) -> bool {
        let busy = |s: &SweepReport| s.recovered + s.expired + s.failed + s.errors > 0;
        busy(&self.intents)
            || busy(&self.claimed)
            || self.decisions_redelivered > 0
            || !self.failures.is_empty()
    }
}

/// Runs the three parts of a pass. `grace` leaves alone what is younger, so that ordinary
/// notifications and deliveries, which take seconds, are not raced.
pub async fn run_pass(intake: &Intake, review: &Review, grace: Duration) -> MaintenanceReport {
    let mut report = MaintenanceReport::default();
    match intake.sweep_awaiting(grace).await {
        Ok(swept) => report.intents = swept,
        Err(error) => report.failures.push(format!("sweeping intents: {error}")),
    }
    match intake.sweep_received(grace).await {
        Ok(swept) => report.claimed = swept,
        Err(error) => report
            .failures
            .push(format!("sweeping claimed uploads: {error}")),
    }
    match review.redeliver_decisions(grace).await {
        Ok(delivered) => report.decisions_redelivered = delivered,
        Err(error) => report
            .failures
            .push(format!("redelivering decisions: {error}")),
    }
    // On AWS this pass is what reports the review age (the alarm's metric) every few minutes.
    let ports = &review.ports;
    if let Err(error) =
        crate::metrics::record_oldest_review_age(ports.uploads.as_ref(), ports.clock.now()).await
    {
        report
            .failures
            .push(format!("reading the oldest review: {error}"));
    }
    if !report.failures.is_empty() {
        warn!(
            ?report,
            "maintenance pass incomplete; the next pass tries again"
        );
    } else if report.is_eventful() {
        info!(?report, "maintenance pass");
    }
    report
}
