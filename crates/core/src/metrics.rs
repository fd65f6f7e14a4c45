//! What Vetted measures, named once. The core records through the `metrics` facade at the
//! step where a thing happens (a status move in [`Lifecycle`](crate::lifecycle::Lifecycle),
//! the gate, the sanitizer, a webhook attempt); which recorder receives it is the process's
//! choice: Prometheus text at `vetted serve`'s `/metrics`, CloudWatch EMF lines on Lambda.
//! With no recorder installed every call here is a no-op.
//!
//! State (how many uploads are in each status, queue depths, the oldest review's age) is
//! not counted in memory: [`oldest_review_age`] and the callers' scrape-time gauges read it
//! from the ports when asked, so it is right after a restart and across processes.

use std::time::Duration;

use crate::ports::{PageRequest, Uploads, UploadsError};
use crate::reason::ReasonCode;
use crate::status::Status;
use crate::time::Timestamp;

/// Counter: status moves made, by the status reached and the reason code (`none` when the
/// move has none). Counted once per move that this process wrote, not on a repeated step
/// that found the move already made.
pub const UPLOAD_TRANSITIONS: &str = "vetted_upload_transitions_total";
/// Histogram (seconds): one run of the intake gate, by `verdict` (`accept`, `reject`).
pub const GATE_SECONDS: &str = "vetted_gate_seconds";
/// Histogram (seconds): one sanitize (decode and re-encode), by `outcome` (`clean`,
/// `rejected`, `too_large`).
pub const SANITIZE_SECONDS: &str = "vetted_sanitize_seconds";
/// Counter: webhook delivery attempts, by `result` (`delivered`, `retry`, `failed`,
/// `refused` by the address guard, `disabled` endpoint).
pub const WEBHOOK_DELIVERIES: &str = "vetted_webhook_deliveries_total";
/// Counter: review starts that the workflow engine throttled and intake deferred (re-sent its
/// notification to its own queue with a delay) instead of failing the message, by `reason`
/// (`throttled`). One per upload deferred, per deferral.
pub const REVIEW_STARTS_DEFERRED: &str = "vetted_review_starts_deferred_total";
/// Gauge (seconds): how long the oldest upload in review has waited for a decision; 0 when
/// none waits.
pub const REVIEW_OLDEST_AGE: &str = "vetted_review_oldest_age_seconds";
/// Gauge: records in a status, by `status` (scrape time, `vetted serve`).
pub const UPLOADS_BY_STATUS: &str = "vetted_uploads";
/// Gauge: messages in a work queue, by `queue` and `state` (`visible`, `in_flight`).
pub const QUEUE_MESSAGES: &str = "vetted_queue_messages";
/// Gauge: dead-lettered messages of a work queue, by `queue`.
pub const QUEUE_DEAD_LETTERS: &str = "vetted_queue_dead_letters";

/// Buckets for the latency histograms, in seconds: the gate is microseconds, a sanitize
/// tens of milliseconds to seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.000_01, 0.000_1, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Gives each metric its help text and unit, for a recorder that shows them (Prometheus
/// `# HELP`). Call once after installing the recorder.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        UPLOAD_TRANSITIONS,
        "Status moves written, by the status reached and its reason code."
    );
    describe_histogram!(
        GATE_SECONDS,
        Unit::Seconds,
        "One intake gate: reading the prefix and judging it, by verdict."
    );
    describe_histogram!(
        SANITIZE_SECONDS,
        Unit::Seconds,
        "One sanitize: decoding and re-encoding, by outcome."
    );
    describe_counter!(WEBHOOK_DELIVERIES, "Webhook delivery attempts, by result.");
    describe_counter!(
        REVIEW_STARTS_DEFERRED,
        "Review starts the workflow engine throttled, deferred by intake for a later retry."
    );
    describe_gauge!(
        REVIEW_OLDEST_AGE,
        Unit::Seconds,
        "How long the oldest upload in review has waited for a decision."
    );
    describe_gauge!(UPLOADS_BY_STATUS, "Records now in a status, by status.");
    describe_gauge!(
        QUEUE_MESSAGES,
        "Messages in a work queue, by queue and state."
    );
    describe_gauge!(QUEUE_DEAD_LETTERS, "Dead-lettered messages, by queue.");
}

/// A status as a label value: `rejected`, `in_review`.
pub fn status_label(status: Status) -> String {
    status.to_string().to_ascii_lowercase()
}

/// Records one status move this process wrote.
pub fn transition(to: Status, reason: Option<ReasonCode>) {
    let reason = reason.map_or("none", ReasonCode::as_str);
    metrics::counter!(UPLOAD_TRANSITIONS, "status" => status_label(to), "reason" => reason)
        .increment(1);
}

/// Records one run of the gate.
pub fn gate(verdict: &'static str, took: Duration) {
    metrics::histogram!(GATE_SECONDS, "verdict" => verdict).record(took.as_secs_f64());
}

/// Records one sanitize.
pub fn sanitize(outcome: &'static str, took: Duration) {
    metrics::histogram!(SANITIZE_SECONDS, "outcome" => outcome).record(took.as_secs_f64());
}

/// Records `uploads` review starts deferred for `reason`.
pub fn review_starts_deferred(reason: &'static str, uploads: usize) {
    metrics::counter!(REVIEW_STARTS_DEFERRED, "reason" => reason)
        .increment(u64::try_from(uploads).unwrap_or(u64::MAX));
}

/// Records one webhook delivery attempt.
pub fn webhook_delivery(result: &'static str) {
    metrics::counter!(WEBHOOK_DELIVERIES, "result" => result).increment(1);
}

/// How long the oldest upload in review has waited at `now` (zero when none waits): one read
/// of the first page of `IN_REVIEW`, which the port orders oldest first.
pub async fn oldest_review_age(
    uploads: &dyn Uploads,
    now: Timestamp,
) -> Result<Duration, UploadsError> {
    let page = uploads
        .list_by_status(Status::InReview, &PageRequest::first(1))
        .await?;
    Ok(page.items.first().map_or(Duration::ZERO, |oldest| {
        Duration::from_millis(
            now.unix_millis()
                .saturating_sub(oldest.status_since.unix_millis())
                .try_into()
                .unwrap_or(0),
        )
    }))
}

/// Sets the [`REVIEW_OLDEST_AGE`] gauge from the record store.
pub async fn record_oldest_review_age(
    uploads: &dyn Uploads,
    now: Timestamp,
) -> Result<(), UploadsError> {
    let age = oldest_review_age(uploads, now).await?;
    metrics::gauge!(REVIEW_OLDEST_AGE).set(age.as_secs_f64());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_labels_are_lowercase_names() {
        assert_eq!(status_label(Status::InReview), "in_review");
        assert_eq!(status_label(Status::Rejected), "rejected");
    }

    #[test]
    fn recording_without_a_recorder_does_nothing() {
        transition(Status::Rejected, Some(ReasonCode::TypeMismatch));
        gate("accept", Duration::from_micros(3));
        webhook_delivery("delivered");
    }
}
