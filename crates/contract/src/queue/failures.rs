//! Queue checks: retries, stale receipts, dead letters and redrive.

use std::time::Duration;

use vetted_core::ports::{QueueError, Receipt};

use super::{
    QueueUnderTest, ack_all, assert_nothing_delivered, fresh_bodies, receive_each, send_all, stats,
    stats_become,
};
use crate::support::Check;

/// `retry_after(receipt, 0)` makes a message visible again at once (it comes back with the
/// next `receive_count`); `retry_after(receipt, d)` keeps it hidden for `d`, even past the
/// queue's visibility timeout.
pub async fn retry_after_delays_the_next_delivery(q: QueueUnderTest<'_>) {
    const CHECK: &str = "queue::retry_after_delays_the_next_delivery";
    let _check = Check::start(CHECK);
    let bodies = fresh_bodies(CHECK, 1);
    send_all(CHECK, q, &bodies).await;
    let first = receive_each(CHECK, q, &bodies, 10, Duration::ZERO).await;
    let first = &first[&bodies[0]];
    q.queue
        .retry_after(&first.receipt, Duration::ZERO)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: retry_after(0) failed: {e}"));
    let second = receive_each(CHECK, q, &bodies, 10, Duration::ZERO).await;
    let second = &second[&bodies[0]];
    assert_eq!(second.id, first.id, "{CHECK}: same message");
    assert_eq!(
        second.receive_count, 2,
        "{CHECK}: receive_count after a retry"
    );

    // Hidden for longer than the visibility timeout: after the timeout it is still hidden.
    let delay = q.visibility_timeout + Duration::from_secs(2);
    q.queue
        .retry_after(&second.receipt, delay)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: retry_after({delay:?}) failed: {e}"));
    tokio::time::sleep(q.visibility_timeout + Duration::from_millis(500)).await;
    assert_nothing_delivered(
        CHECK,
        q,
        Duration::ZERO,
        "retry_after(delay) must keep the message hidden for the delay, past the visibility timeout",
    )
    .await;
    let third = receive_each(CHECK, q, &bodies, 10, delay).await;
    let third = &third[&bodies[0]];
    if q.max_receives >= 3 {
        assert_eq!(third.receive_count, 3, "{CHECK}: receive_count");
    }
    ack_all(CHECK, q, [third]).await;
    stats_become(CHECK, q, stats(0, 0, 0)).await;
}

fn assert_stale(check: &str, what: &str, result: Result<(), QueueError>) {
    assert!(
        matches!(result, Err(QueueError::StaleReceipt)),
        "{check}: {what} must be StaleReceipt, got {result:?}"
    );
}

/// Receipts of acked messages, and receipts the queue never issued, are refused as
/// `StaleReceipt` by `retry_after` (so an acked message never comes back) and by `ack`. A
/// second ack of the same receipt may also succeed, as SQS's DeleteMessage does: what it must
/// not be is a backend error.
pub async fn stale_receipts_are_refused(q: QueueUnderTest<'_>) {
    const CHECK: &str = "queue::stale_receipts_are_refused";
    let _check = Check::start(CHECK);
    let bodies = fresh_bodies(CHECK, 1);
    send_all(CHECK, q, &bodies).await;
    let got = receive_each(CHECK, q, &bodies, 10, Duration::ZERO).await;
    let message = &got[&bodies[0]];
    ack_all(CHECK, q, [message]).await;
    let again = q.queue.ack(&message.receipt).await;
    assert!(
        matches!(again, Ok(()) | Err(QueueError::StaleReceipt)),
        "{CHECK}: a second ack must succeed or be StaleReceipt, got {again:?}"
    );
    let retry = q.queue.retry_after(&message.receipt, Duration::ZERO).await;
    assert_stale(CHECK, "retry_after with an acked message's receipt", retry);
    assert_nothing_delivered(
        CHECK,
        q,
        Duration::from_secs(1),
        "an acked message must not come back",
    )
    .await;
    let bogus = Receipt(format!("{}-never-issued", bodies[0]));
    assert_stale(
        CHECK,
        "ack with a receipt never issued",
        q.queue.ack(&bogus).await,
    );
    let retry = q.queue.retry_after(&bogus, Duration::ZERO).await;
    assert_stale(CHECK, "retry_after with a receipt never issued", retry);
    stats_become(CHECK, q, stats(0, 0, 0)).await;
}

/// A message received `max_receives` times without an ack is not delivered again: it moves to
/// the dead letters (`stats().dead`). `redrive(n)` moves up to `n` of them back and says how
/// many; a redriven message is delivered again with a fresh `receive_count` of 1.
pub async fn exhausted_messages_are_dead_lettered_and_redriven(q: QueueUnderTest<'_>) {
    const CHECK: &str = "queue::exhausted_messages_are_dead_lettered_and_redriven";
    let _check = Check::start(CHECK);
    let bodies = fresh_bodies(CHECK, 2);
    send_all(CHECK, q, &bodies).await;
    for round in 1..=q.max_receives {
        let wait = if round == 1 {
            Duration::ZERO
        } else {
            q.visibility_timeout
        };
        let got = receive_each(CHECK, q, &bodies, 10, wait).await;
        for message in got.values() {
            assert_eq!(
                message.receive_count, round,
                "{CHECK}: receive_count of delivery {round}"
            );
        }
    }
    // Past the last timeout the messages are due again; receiving now must dead-letter them.
    tokio::time::sleep(q.visibility_timeout + Duration::from_millis(500)).await;
    for _ in 0..2 {
        assert_nothing_delivered(
            CHECK,
            q,
            Duration::from_secs(1),
            "a message received max_receives times must not be delivered again",
        )
        .await;
    }
    stats_become(CHECK, q, stats(0, 0, 2)).await;

    let moved = q
        .queue
        .redrive(1)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: redrive(1) failed: {e}"));
    assert_eq!(moved, 1, "{CHECK}: redrive(1) with 2 dead letters");
    stats_become(CHECK, q, stats(1, 0, 1)).await;
    let moved = q.queue.redrive(10).await.expect("redrive(10)");
    assert_eq!(moved, 1, "{CHECK}: redrive(10) with 1 dead letter left");
    let moved = q.queue.redrive(10).await.expect("redrive(10)");
    assert_eq!(moved, 0, "{CHECK}: redrive with no dead letters");
    stats_become(CHECK, q, stats(2, 0, 0)).await;

    let got = receive_each(CHECK, q, &bodies, 10, Duration::ZERO).await;
    for message in got.values() {
        assert_eq!(
            message.receive_count, 1,
            "{CHECK}: a redriven message starts its receives afresh"
        );
    }
    ack_all(CHECK, q, got.values()).await;
    stats_become(CHECK, q, stats(0, 0, 0)).await;
}
