//! Queue checks: delivery, acknowledgement, visibility and long polling.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::{
    QueueUnderTest, ack_all, assert_nothing_delivered, fresh_bodies, receive_each, send_all, stats,
    stats_become,
};
use crate::support::Check;

/// Sent messages are delivered once each with `receive_count` 1, distinct ids and receipts;
/// acked, they never come back, even after the visibility timeout.
pub async fn send_receive_ack(q: QueueUnderTest<'_>) {
    const CHECK: &str = "queue::send_receive_ack";
    let _check = Check::start(CHECK);
    let bodies = fresh_bodies(CHECK, 3);
    send_all(CHECK, q, &bodies).await;
    let got = receive_each(CHECK, q, &bodies, 10, Duration::ZERO).await;
    for message in got.values() {
        assert_eq!(
            message.receive_count, 1,
            "{CHECK}: a first delivery must have receive_count 1"
        );
    }
    let ids: HashSet<&str> = got.values().map(|m| m.id.as_str()).collect();
    let receipts: HashSet<&str> = got.values().map(|m| m.receipt.0.as_str()).collect();
    assert_eq!(ids.len(), 3, "{CHECK}: message ids must be distinct");
    assert_eq!(receipts.len(), 3, "{CHECK}: receipts must be distinct");
    ack_all(CHECK, q, got.values()).await;
    stats_become(CHECK, q, stats(0, 0, 0)).await;
    tokio::time::sleep(q.visibility_timeout).await;
    assert_nothing_delivered(
        CHECK,
        q,
        Duration::from_secs(1),
        "acked messages must not be delivered again",
    )
    .await;
}

/// `receive(max)` never returns more than `max` messages, and repeated receives get them all.
pub async fn receive_returns_at_most_max(q: QueueUnderTest<'_>) {
    const CHECK: &str = "queue::receive_returns_at_most_max";
    let _check = Check::start(CHECK);
    let bodies = fresh_bodies(CHECK, 5);
    send_all(CHECK, q, &bodies).await;
    let got = receive_each(CHECK, q, &bodies, 2, Duration::ZERO).await;
    ack_all(CHECK, q, got.values()).await;
    stats_become(CHECK, q, stats(0, 0, 0)).await;
}

/// `stats()` counts messages waiting (`visible`) and received but not yet acked (`in_flight`).
pub async fn stats_count_visible_and_in_flight(q: QueueUnderTest<'_>) {
    const CHECK: &str = "queue::stats_count_visible_and_in_flight";
    let _check = Check::start(CHECK);
    let bodies = fresh_bodies(CHECK, 3);
    send_all(CHECK, q, &bodies).await;
    stats_become(CHECK, q, stats(3, 0, 0)).await;
    let first = q
        .queue
        .receive(1, Duration::from_secs(1))
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: receive failed: {e}"));
    assert_eq!(
        first.len(),
        1,
        "{CHECK}: receive(1) of a queue with 3 visible messages"
    );
    stats_become(CHECK, q, stats(2, 1, 0)).await;
    ack_all(CHECK, q, &first).await;
    stats_become(CHECK, q, stats(2, 0, 0)).await;
    let rest: Vec<String> = bodies
        .iter()
        .filter(|b| **b != first[0].body)
        .cloned()
        .collect();
    let got = receive_each(CHECK, q, &rest, 10, Duration::ZERO).await;
    stats_become(CHECK, q, stats(0, 2, 0)).await;
    ack_all(CHECK, q, got.values()).await;
    stats_become(CHECK, q, stats(0, 0, 0)).await;
}

/// A received message is invisible to other receivers until its visibility timeout passes,
/// then is delivered again: same id and body, a higher `receive_count`, a new receipt.
pub async fn a_received_message_is_invisible_until_its_timeout(q: QueueUnderTest<'_>) {
    const CHECK: &str = "queue::a_received_message_is_invisible_until_its_timeout";
    let _check = Check::start(CHECK);
    let bodies = fresh_bodies(CHECK, 1);
    send_all(CHECK, q, &bodies).await;
    let first = receive_each(CHECK, q, &bodies, 10, Duration::ZERO).await;
    let first = &first[&bodies[0]];
    assert_nothing_delivered(
        CHECK,
        q,
        Duration::ZERO,
        "a message must be invisible during its visibility timeout",
    )
    .await;
    let again = receive_each(CHECK, q, &bodies, 10, q.visibility_timeout).await;
    let again = &again[&bodies[0]];
    assert_eq!(
        again.id, first.id,
        "{CHECK}: a redelivery keeps the message id"
    );
    assert_eq!(
        again.receive_count, 2,
        "{CHECK}: the second delivery's receive_count"
    );
    assert_ne!(
        again.receipt, first.receipt,
        "{CHECK}: every receive must hand out a new receipt"
    );
    ack_all(CHECK, q, [again]).await;
    stats_become(CHECK, q, stats(0, 0, 0)).await;
}

/// A receive waiting on an empty queue returns as soon as a message is sent, with that message,
/// well before its wait is over; a receive on a queue that stays empty returns nothing.
///
/// The wait here is the contract's meaning of `wait` ("up to"), not a speed requirement: the
/// bound checked is the whole 10 s wait, against a message sent after half a second.
pub async fn a_long_poll_returns_when_a_message_arrives(q: QueueUnderTest<'_>) {
    const CHECK: &str = "queue::a_long_poll_returns_when_a_message_arrives";
    let _check = Check::start(CHECK);
    let wait = Duration::from_secs(10);
    assert_nothing_delivered(CHECK, q, Duration::from_secs(1), "the queue is empty").await;
    let bodies = fresh_bodies(CHECK, 1);
    let started = Instant::now();
    let (received, ()) = tokio::join!(q.queue.receive(10, wait), async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        send_all(CHECK, q, &bodies).await;
    });
    let elapsed = started.elapsed();
    let received = received.unwrap_or_else(|e| panic!("{CHECK}: receive failed: {e}"));
    let got: Vec<&str> = received.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        got,
        vec![bodies[0].as_str()],
        "{CHECK}: a long poll must return the message sent while it waited"
    );
    assert!(
        elapsed < wait,
        "{CHECK}: the long poll returned only after its whole wait ({elapsed:?})"
    );
    ack_all(CHECK, q, &received).await;
}

/// `send_delayed(body, d)` hides the new message for `d`: a receive before then gets nothing,
/// one after gets it, as a first delivery. A delay of zero is a plain send.
pub async fn send_delayed_hides_the_message_for_its_delay(q: QueueUnderTest<'_>) {
    const CHECK: &str = "queue::send_delayed_hides_the_message_for_its_delay";
    let _check = Check::start(CHECK);
    let bodies = fresh_bodies(CHECK, 2);
    let delay = Duration::from_secs(3);
    q.queue
        .send_delayed(&bodies[0], delay)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: send_delayed failed: {e}"));
    let sent = Instant::now();
    q.queue
        .send_delayed(&bodies[1], Duration::ZERO)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: send_delayed(0) failed: {e}"));
    let undelayed = receive_each(CHECK, q, &bodies[1..], 10, Duration::ZERO).await;
    // Acked at once, so that it is not delivered again while the delayed one is awaited.
    ack_all(CHECK, q, undelayed.values()).await;
    // Only what is checked before the delay is over proves anything: on a slow machine the
    // receive above may have taken the whole delay, and then there is nothing to check.
    if sent.elapsed() + Duration::from_millis(500) < delay {
        assert_nothing_delivered(
            CHECK,
            q,
            Duration::ZERO,
            "a delayed message must not be delivered before its delay",
        )
        .await;
    }
    let delayed = receive_each(CHECK, q, &bodies[..1], 10, delay).await;
    let delayed = &delayed[&bodies[0]];
    assert!(
        sent.elapsed() >= delay - Duration::from_millis(50),
        "{CHECK}: delivered {:?} after a send delayed by {delay:?}",
        sent.elapsed()
    );
    assert_eq!(
        delayed.receive_count, 1,
        "{CHECK}: a delayed message's first delivery"
    );
    ack_all(CHECK, q, [delayed]).await;
    stats_become(CHECK, q, stats(0, 0, 0)).await;
}
