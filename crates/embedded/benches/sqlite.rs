//! Throughput of the SQLite adapters on a real file: one upload's whole record lifecycle
//! (create, five transitions, a read), and a queue round trip (send, receive, ack), each alone
//! and with 64 at once, as `vetted serve`'s workers would run them.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vetted_core::ports::{Uploads, WorkQueue};
use vetted_core::record::{FileName, UploadMethod};
use vetted_core::{
    ImageType, OwnerId, RecordChanges, SlotRef, Status, TaskToken, Timestamp, Transition, UploadId,
    UploadRecord,
};
use vetted_embedded::db::Db;
use vetted_embedded::sqlite_queue::{QueueConfig, SqliteWorkQueue};
use vetted_embedded::sqlite_uploads::SqliteUploads;

const CONCURRENCY: u64 = 64;

async fn lifecycle(uploads: &SqliteUploads, owner: &OwnerId) {
    use Status::*;
    let now = Timestamp::from_unix_millis(1_700_000_000_000);
    let record = UploadRecord::new_intent(
        UploadId::generate(),
        owner.clone(),
        "r1/gallery-1".parse::<SlotRef>().expect("slot"),
        FileName::parse("logo.png").expect("file name"),
        ImageType::Png,
        50_000,
        UploadMethod::Post,
        now,
        now,
    );
    uploads.create(&record).await.expect("create");
    let token = TaskToken::parse(&"t".repeat(600)).expect("token");
    for (from, to) in [
        (AwaitingUpload, Received),
        (Received, InReview),
        (InReview, Decided),
        (Decided, Approved),
        (Approved, Published),
    ] {
        let changes = RecordChanges {
            width: Some(800),
            task_token: Some(token.clone()),
            decided_at: (to == Decided).then_some(now),
            ..RecordChanges::default()
        };
        let t = Transition::new(from, to, now).expect("move").with(changes);
        uploads
            .transition(&record.id, &t)
            .await
            .expect("transition");
    }
    uploads.get(&record.id).await.expect("get");
}

async fn round_trip(queue: &SqliteWorkQueue) {
    queue.send(r#"{"upload":"x"}"#).await.expect("send");
    let got = queue
        .receive(1, Duration::from_secs(5))
        .await
        .expect("receive");
    for message in got {
        queue.ack(&message.receipt).await.expect("ack");
    }
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let db = runtime
        .block_on(Db::open(dir.path().join("bench.db")))
        .expect("open");
    let uploads = SqliteUploads::new(db.clone());
    let config = QueueConfig {
        visibility_timeout: Duration::from_secs(60),
        max_receives: 5,
    };
    let queue = SqliteWorkQueue::new(db, "bench", config);
    let owner = OwnerId::parse("bench-owner").expect("owner");

    let mut group = c.benchmark_group("sqlite");
    group.throughput(Throughput::Elements(1));
    group.bench_function("upload_lifecycle", |b| {
        b.iter(|| runtime.block_on(lifecycle(&uploads, &owner)));
    });
    group.bench_function("upload_lifecycle_x64", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let started = Instant::now();
                let tasks: Vec<_> = (0..CONCURRENCY)
                    .map(|worker| {
                        let (uploads, owner) = (uploads.clone(), owner.clone());
                        let share = iters / CONCURRENCY + u64::from(worker < iters % CONCURRENCY);
                        tokio::spawn(async move {
                            for _ in 0..share {
                                lifecycle(&uploads, &owner).await;
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.expect("worker");
                }
                started.elapsed()
            })
        });
    });
    group.bench_function("queue_round_trip", |b| {
        b.iter(|| runtime.block_on(round_trip(&queue)));
    });
    group.bench_function("queue_round_trip_x64", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let started = Instant::now();
                let tasks: Vec<_> = (0..CONCURRENCY)
                    .map(|worker| {
                        let queue = queue.clone();
                        let share = iters / CONCURRENCY + u64::from(worker < iters % CONCURRENCY);
                        tokio::spawn(async move {
                            for _ in 0..share {
                                round_trip(&queue).await;
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.expect("worker");
                }
                started.elapsed()
            })
        });
    });
    group.finish();
}

criterion_group!(sqlite, benches);
criterion_main!(sqlite);
