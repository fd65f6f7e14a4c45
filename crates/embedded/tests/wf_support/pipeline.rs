//! The review on embedded adapters end to end: the engine running the real ASL, the core
//! `Review` workers answering its tasks from the SQLite queues, records in SQLite, objects in
//! a directory, events in the outbox. Shared by the end-to-end tests and the benchmark.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use vetted_core::media::MediaUrls;
use vetted_core::policy::SlotPolicies;
use vetted_core::ports::{
    ObjectStore, Restaurants, ReviewStart, ReviewStarter, Uploads, WorkQueue,
};
use vetted_core::record::{FileName, UploadMethod};
use vetted_core::restaurant::Restaurant;
use vetted_core::review::Review;
use vetted_core::review::sanitize::DEFAULT_MAX_DECODE_ALLOC;
use vetted_core::{
    Clock, ExecutionName, ImageType, ObjectKey, OwnerId, Policy, Ports, RecordChanges, SlotRef,
    Status, SystemClock, Transition, UploadId, UploadRecord,
};
use vetted_embedded::fs_store::FsObjectStore;
use vetted_embedded::outbox::SqliteOutbox;
use vetted_embedded::sqlite_restaurants::SqliteRestaurants;
use vetted_embedded::sqlite_uploads::SqliteUploads;

use super::{Rig, review_asl};

pub struct Pipeline {
    pub rig: Rig,
    pub review: Arc<Review>,
    pub uploads: Arc<SqliteUploads>,
    pub restaurants: Arc<SqliteRestaurants>,
    pub objects: Arc<FsObjectStore>,
    pub outbox: Arc<SqliteOutbox>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// The slot every upload of the pipeline asks to change.
pub fn target() -> SlotRef {
    "r1/gallery-1".parse().unwrap()
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Takes task messages off `queue` and hands them to the review, as the worker binary does.
async fn work(review: Arc<Review>, queue: Arc<dyn WorkQueue>, stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let Ok(messages) = queue.receive(10, Duration::from_millis(200)).await else {
            continue;
        };
        for message in messages {
            match review.handle_message(&message.body).await {
                Ok(_) => {
                    let _ = queue.ack(&message.receipt).await;
                }
                Err(_) => {
                    let _ = queue
                        .retry_after(&message.receipt, Duration::from_millis(200))
                        .await;
                }
            }
        }
    }
}

impl Pipeline {
    pub async fn start(dir: &Path) -> Pipeline {
        Self::start_with(dir, Policy::default()).await
    }

    /// The same, with one policy for every slot.
    pub async fn start_with(dir: &Path, policy: Policy) -> Pipeline {
        Self::start_inner(dir, policy, true).await
    }

    /// The pipeline without a worker on the review-tasks queue: the test takes those messages
    /// (`rig.review_tasks`) and hands them to `review` itself, in the order it wants.
    pub async fn start_driving_review_tasks(dir: &Path) -> Pipeline {
        Self::start_inner(dir, Policy::default(), false).await
    }

    async fn start_inner(dir: &Path, policy: Policy, review_worker: bool) -> Pipeline {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let rig = Rig::open(&dir.join("vetted.db"), &review_asl(), clock.clone()).await;
        let uploads = Arc::new(SqliteUploads::new(rig.db.clone()));
        let objects = Arc::new(FsObjectStore::new(dir.join("objects")).unwrap());
        let restaurants = Arc::new(SqliteRestaurants::new(rig.db.clone()));
        restaurants
            .create(&Restaurant {
                id: target().restaurant,
                name: "Trattoria Roma".to_owned(),
                created_at: SystemClock.now(),
            })
            .await
            .unwrap();
        let outbox = Arc::new(SqliteOutbox::new(rig.db.clone(), clock.clone()));
        let review = Arc::new(Review {
            ports: Ports {
                uploads: uploads.clone(),
                restaurants: restaurants.clone(),
                banned: Arc::new(vetted_embedded::sqlite_banned::SqliteBanned::new(
                    rig.db.clone(),
                )),
                audit: Arc::new(vetted_embedded::sqlite_audit::SqliteAudit::new(
                    rig.db.clone(),
                )),
                objects: objects.clone(),
                events: outbox.clone(),
                clock,
                media: MediaUrls::Unserved,
            },
            tasks: Arc::new(rig.engine.clone()),
            policies: SlotPolicies::uniform(policy),
            max_decode_alloc: DEFAULT_MAX_DECODE_ALLOC,
            memory: vetted_core::review::sanitize::budget::MemoryBudget::default(),
            // No scanner, and unscanned uploads proceed: these tests are about other steps.
            scanning: vetted_core::review::Scanning::without_scanner(true),
        });
        let (stop, watching) = watch::channel(false);
        let engine = rig.engine.clone();
        let runner = stopped(watching.clone());
        let mut tasks = vec![tokio::spawn(async move { engine.run(runner).await })];
        let mut queues = vec![Arc::new(rig.sanitize.clone()) as Arc<dyn WorkQueue>];
        if review_worker {
            queues.push(Arc::new(rig.review_tasks.clone()) as Arc<dyn WorkQueue>);
        }
        for queue in queues {
            tasks.push(tokio::spawn(work(review.clone(), queue, watching.clone())));
        }
        Pipeline {
            rig,
            review,
            uploads,
            restaurants,
            objects,
            outbox,
            stop,
            tasks,
        }
    }

    /// An upload that intake has accepted (RECEIVED, object in place), in review under `name`.
    pub async fn submit(
        &self,
        image: Vec<u8>,
        width: u32,
        height: u32,
        timeout_seconds: u64,
    ) -> (UploadId, ExecutionName) {
        let stages = vetted_core::ports::ReviewStages::without_escalation(timeout_seconds);
        self.submit_staged(image, width, height, timeout_seconds, stages)
            .await
    }

    /// [`Pipeline::submit`] with escalation stages.
    pub async fn submit_staged(
        &self,
        image: Vec<u8>,
        width: u32,
        height: u32,
        timeout_seconds: u64,
        stages: vetted_core::ports::ReviewStages,
    ) -> (UploadId, ExecutionName) {
        let id = UploadId::generate();
        let owner = OwnerId::parse("owner-1").unwrap();
        let now = self.review.ports.clock.now();
        let intent = UploadRecord::new_intent(
            id,
            owner,
            target(),
            FileName::parse("logo.png").unwrap(),
            ImageType::Png,
            image.len() as u64,
            UploadMethod::Post,
            now,
            now.saturating_add(Duration::from_secs(600)),
        );
        self.uploads.create(&intent).await.unwrap();
        self.objects
            .put(&intent.key, image.clone().into(), "image/png")
            .await
            .unwrap();
        let name =
            ExecutionName::parse(&format!("review-{}", id.to_string().replace('-', ""))).unwrap();
        let received = Transition::new(Status::AwaitingUpload, Status::Received, now)
            .unwrap()
            .with(RecordChanges {
                detected_type: Some(ImageType::Png),
                width: Some(width),
                height: Some(height),
                bytes: Some(image.len() as u64),
                execution_name: Some(name.clone()),
                ..Default::default()
            });
        self.uploads.transition(&id, &received).await.unwrap();
        let start = ReviewStart {
            upload_id: id,
            review_timeout_seconds: timeout_seconds,
            review_stages: stages,
        };
        self.rig.engine.start(&name, &start).await.unwrap();
        (id, name)
    }

    /// Waits (bounded) until the record reaches `status`.
    pub async fn wait_for(&self, id: &UploadId, status: Status) -> UploadRecord {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let record = self.uploads.get(id).await.unwrap();
            if record.status == status {
                return record;
            }
            assert!(
                Instant::now() < deadline,
                "{id} is {} after 30 s, not {status}",
                record.status
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    pub async fn published_bytes(&self, id: &UploadId) -> Vec<u8> {
        self.objects
            .get(&ObjectKey::published(&target(), id))
            .await
            .unwrap()
            .to_vec()
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
