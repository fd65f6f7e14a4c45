//! The event sink contract on the SQLite outbox, and the outbox's own delivery semantics:
//! idempotent by id, in publication order, retried with backoff, one upload's failure holding
//! back only that upload's later events.

// Test code, helpers included: a failed unwrap is a failed assertion.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use vetted_contract::events::{PublishedEvents, run_all, sample_event};
use vetted_core::events::{EventType, UploadEvent};
use vetted_core::ports::EventSink;
use vetted_core::time::ManualClock;
use vetted_core::{SystemClock, Timestamp, UploadId};
use vetted_embedded::db::Db;
use vetted_embedded::outbox::{EventHandler, FIRST_BACKOFF, SqliteOutbox};

/// Reads the outbox as its dispatcher would: pending events, marked delivered once read.
struct Drain(SqliteOutbox);

#[async_trait]
impl PublishedEvents for Drain {
    async fn read_published(&self) -> Result<Vec<UploadEvent>, String> {
        let pending = self.0.pending(1000).await.map_err(|e| e.to_string())?;
        let seqs: Vec<i64> = pending.iter().map(|p| p.seq).collect();
        self.0
            .mark_delivered(&seqs)
            .await
            .map_err(|e| e.to_string())?;
        Ok(pending.into_iter().map(|p| p.event).collect())
    }
}

async fn outbox(dir: &tempfile::TempDir, clock: Arc<dyn vetted_core::Clock>) -> SqliteOutbox {
    let db = Db::open(dir.path().join("vetted.db")).await.unwrap();
    SqliteOutbox::new(db, clock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_outbox_passes_the_event_sink_contract() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox(&dir, Arc::new(SystemClock)).await;
    run_all(&outbox, &Drain(outbox.clone())).await;
}

/// Records deliveries; fails every event of `failing` while it is set.
#[derive(Default)]
struct Recorder {
    delivered: Mutex<Vec<String>>,
    failing: Mutex<Option<UploadId>>,
}

#[async_trait]
impl EventHandler for Recorder {
    async fn deliver(
        &self,
        event: &UploadEvent,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if *self.failing.lock().unwrap() == Some(event.upload_id) {
            return Err("endpoint down".into());
        }
        self.delivered.lock().unwrap().push(event.id.clone());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_is_in_order_once_and_retried_per_upload() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(
        1_700_000_000_000,
    )));
    let outbox = outbox(&dir, clock.clone()).await;
    let (a, b) = (UploadId::generate(), UploadId::generate());
    let events = [
        sample_event(a, EventType::ReviewRequested),
        sample_event(b, EventType::ReviewRequested),
        sample_event(a, EventType::ReviewApproved),
        sample_event(b, EventType::ReviewDeclined),
    ];
    for event in &events {
        outbox.publish(event).await.unwrap();
    }
    outbox.publish(&events[0]).await.unwrap();
    assert_eq!(
        outbox.pending(10).await.unwrap().len(),
        4,
        "the same id is stored once"
    );

    let handler = Recorder::default();
    *handler.failing.lock().unwrap() = Some(a);
    assert_eq!(outbox.dispatch_once(&handler).await.unwrap(), 2);
    assert_eq!(
        *handler.delivered.lock().unwrap(),
        [events[1].id.clone(), events[3].id.clone()]
    );
    let waiting = outbox.pending(10).await.unwrap();
    assert_eq!(waiting.len(), 2);
    assert_eq!(waiting[0].attempts, 1);
    assert_eq!(waiting[0].last_error.as_deref(), Some("endpoint down"));
    assert_eq!(waiting[0].next_attempt_at, clock.now_after(FIRST_BACKOFF));
    assert_eq!(
        waiting[1].attempts, 0,
        "held back behind the failed one, not tried"
    );

    *handler.failing.lock().unwrap() = None;
    assert_eq!(
        outbox.dispatch_once(&handler).await.unwrap(),
        0,
        "backing off"
    );
    clock.advance(FIRST_BACKOFF);
    assert_eq!(outbox.dispatch_once(&handler).await.unwrap(), 2);
    assert_eq!(
        *handler.delivered.lock().unwrap(),
        [&events[1], &events[3], &events[0], &events[2]].map(|e| e.id.clone())
    );
    assert!(outbox.pending(10).await.unwrap().is_empty());
    assert_eq!(
        outbox.events_for(&a).await.unwrap(),
        [events[0].clone(), events[2].clone()]
    );
    assert_eq!(
        outbox
            .purge_delivered(clock.now_after(Duration::from_secs(1)))
            .await
            .unwrap(),
        3,
        "all but the newest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dispatcher_delivers_as_events_are_published() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox(&dir, Arc::new(SystemClock)).await;
    let handler = Arc::new(Recorder::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let (outbox, handler) = (outbox.clone(), handler.clone());
        tokio::spawn(async move {
            outbox
                .run_dispatcher(handler.as_ref(), async {
                    let _ = stopped.await;
                })
                .await;
        })
    };
    let event = sample_event(UploadId::generate(), EventType::UploadPublished);
    outbox.publish(&event).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while handler.delivered.lock().unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "not delivered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*handler.delivered.lock().unwrap(), vec![event.id.clone()]);
    stop.send(()).unwrap();
    running.await.unwrap();
}

trait After {
    fn now_after(&self, by: Duration) -> Timestamp;
}

impl After for ManualClock {
    fn now_after(&self, by: Duration) -> Timestamp {
        vetted_core::Clock::now(self).saturating_add(by)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_reads_by_seq_and_a_purge_never_lets_seq_go_back() {
    use vetted_core::ports::EventFeed;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(1_000_000)));
    let outbox = outbox(&dir, clock.clone()).await;
    assert_eq!(outbox.after(0, 10).await.unwrap().latest, 0);
    let events: Vec<UploadEvent> = (0..3)
        .map(|_| sample_event(UploadId::generate(), EventType::UploadReceived))
        .collect();
    for event in &events {
        outbox.publish(event).await.unwrap();
    }
    outbox.publish(&events[0]).await.unwrap(); // the same event again is the same row
    let page = outbox.after(0, 10).await.unwrap();
    let seqs: Vec<u64> = page.events.iter().map(|e| e.seq).collect();
    assert_eq!(page.events.len(), 3);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!((page.latest, page.purged_through), (seqs[2], 0));
    let page = outbox.after(seqs[0], 1).await.unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].event, events[1]);

    let pending: Vec<i64> = outbox
        .pending(10)
        .await
        .unwrap()
        .iter()
        .map(|p| p.seq)
        .collect();
    outbox.mark_delivered(&pending).await.unwrap();
    clock.advance(Duration::from_secs(5));
    assert_eq!(
        outbox
            .purge_delivered(clock.now_after(Duration::ZERO))
            .await
            .unwrap(),
        2
    );
    let page = outbox.after(0, 10).await.unwrap();
    assert_eq!(page.events.len(), 1, "the newest stays");
    assert_eq!((page.latest, page.purged_through), (seqs[2], seqs[1]));
    let later = sample_event(UploadId::generate(), EventType::UploadReceived);
    outbox.publish(&later).await.unwrap();
    assert!(outbox.after(0, 10).await.unwrap().latest > seqs[2]);
    // Once a newer event exists, the one kept back goes too, and the horizon follows it.
    assert_eq!(
        outbox
            .purge_delivered(clock.now_after(Duration::ZERO))
            .await
            .unwrap(),
        1
    );
    assert_eq!(outbox.after(0, 10).await.unwrap().purged_through, seqs[2]);
}
