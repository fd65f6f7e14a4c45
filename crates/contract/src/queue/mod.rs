//! The `WorkQueue` contract: at-least-once delivery, visibility timeouts, receive counts,
//! dead letters after the maximum number of receives, redrive, long polling, delayed sends,
//! stale receipts.
//!
//! The waits are real, because SQS semantics are what the AWS run checks: keep the queue's
//! visibility timeout at 1–2 s and `max_receives` small (2–3) and the suite takes well under
//! half a minute. Assertions hold on SQS too: a receive may return fewer messages than are
//! there, so checks receive until they have what they expect, up to a deadline, and only the
//! absence of delivery is checked with a single call.

mod delivery;
mod failures;

pub use delivery::{
    a_long_poll_returns_when_a_message_arrives, a_received_message_is_invisible_until_its_timeout,
    receive_returns_at_most_max, send_delayed_hides_the_message_for_its_delay, send_receive_ack,
    stats_count_visible_and_in_flight,
};
pub use failures::{
    exhausted_messages_are_dead_lettered_and_redriven, retry_after_delays_the_next_delivery,
    stale_receipts_are_refused,
};

use std::collections::HashMap;
use std::time::{Duration, Instant};

use vetted_core::ports::{QueueMessage, QueueStats, WorkQueue};

use crate::support::{eventually, unique};

/// A queue and the configuration it was created with.
#[derive(Clone, Copy)]
pub struct QueueUnderTest<'a> {
    pub queue: &'a dyn WorkQueue,
    pub visibility_timeout: Duration,
    pub max_receives: u32,
}

/// Runs every check on `q`, a fresh, empty queue configured with its values. Each check leaves
/// the queue empty again.
pub async fn run_all(q: QueueUnderTest<'_>) {
    assert!(
        q.visibility_timeout >= Duration::from_secs(1),
        "queue contract: the visibility timeout must be at least 1 s, to tell visible from invisible"
    );
    assert!(
        q.max_receives >= 2,
        "queue contract: max_receives must be at least 2, so that a message can be retried"
    );
    send_receive_ack(q).await;
    receive_returns_at_most_max(q).await;
    stats_count_visible_and_in_flight(q).await;
    a_received_message_is_invisible_until_its_timeout(q).await;
    retry_after_delays_the_next_delivery(q).await;
    a_long_poll_returns_when_a_message_arrives(q).await;
    send_delayed_hides_the_message_for_its_delay(q).await;
    stale_receipts_are_refused(q).await;
    exhausted_messages_are_dead_lettered_and_redriven(q).await;
}

/// How long a receive loop may take to get messages that are visible (SQS may spread them).
const DELIVERY_LIMIT: Duration = Duration::from_secs(10);
/// The long-poll wait of each receive in a loop: SQS takes whole seconds.
const POLL: Duration = Duration::from_secs(1);

pub(crate) fn fresh_bodies(check: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| unique(&format!("{check}#{i}"))).collect()
}

pub(crate) async fn send_all(check: &str, q: QueueUnderTest<'_>, bodies: &[String]) {
    for body in bodies {
        q.queue
            .send(body)
            .await
            .unwrap_or_else(|e| panic!("{check}: send failed: {e}"));
    }
}

/// Receives (`max` per call) until each of `bodies` has been delivered, within `extra` plus
/// [`DELIVERY_LIMIT`]; returns each body's first delivery. A message this check did not send
/// fails it (the queue was not empty, or a previous check leaked one).
pub(crate) async fn receive_each(
    check: &str,
    q: QueueUnderTest<'_>,
    bodies: &[String],
    max: u32,
    extra: Duration,
) -> HashMap<String, QueueMessage> {
    let limit = extra + DELIVERY_LIMIT;
    let deadline = Instant::now() + limit;
    let mut got: HashMap<String, QueueMessage> = HashMap::new();
    while got.len() < bodies.len() {
        assert!(
            Instant::now() < deadline,
            "{check}: only {} of {} messages were delivered within {limit:?}",
            got.len(),
            bodies.len()
        );
        let batch = q
            .queue
            .receive(max, POLL)
            .await
            .unwrap_or_else(|e| panic!("{check}: receive failed: {e}"));
        assert!(
            batch.len() <= max as usize,
            "{check}: receive(max = {max}) returned {} messages",
            batch.len()
        );
        for message in batch {
            assert!(
                bodies.contains(&message.body),
                "{check}: received a message this check did not send: {:?}",
                message.body
            );
            // A message seen again here was redelivered after its timeout: keep the first.
            got.entry(message.body.clone()).or_insert(message);
        }
    }
    got
}

/// One receive of up to 10 messages, waiting `wait`: it must deliver nothing.
pub(crate) async fn assert_nothing_delivered(
    check: &str,
    q: QueueUnderTest<'_>,
    wait: Duration,
    why: &str,
) {
    let batch = q
        .queue
        .receive(10, wait)
        .await
        .unwrap_or_else(|e| panic!("{check}: receive failed: {e}"));
    let bodies: Vec<&str> = batch.iter().map(|m| m.body.as_str()).collect();
    assert!(bodies.is_empty(), "{check}: {why}, but received {bodies:?}");
}

/// Waits until `stats()` equals `expected` (SQS counts are approximate and may lag).
pub(crate) async fn stats_become(check: &str, q: QueueUnderTest<'_>, expected: QueueStats) {
    let what = format!("{check}: stats() == {expected:?}");
    eventually(Duration::from_secs(5), &what, || async move {
        let stats = q
            .queue
            .stats()
            .await
            .unwrap_or_else(|e| panic!("{check}: stats failed: {e}"));
        if stats == expected {
            Ok(())
        } else {
            Err(format!("{stats:?}"))
        }
    })
    .await;
}

pub(crate) async fn ack_all<'m>(
    check: &str,
    q: QueueUnderTest<'_>,
    messages: impl IntoIterator<Item = &'m QueueMessage>,
) {
    for message in messages {
        q.queue
            .ack(&message.receipt)
            .await
            .unwrap_or_else(|e| panic!("{check}: ack of a fresh receipt failed: {e}"));
    }
}

pub(crate) fn stats(visible: u64, in_flight: u64, dead: u64) -> QueueStats {
    QueueStats {
        visible,
        in_flight,
        dead,
    }
}
