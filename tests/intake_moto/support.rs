//! What the intake tests on moto share: the whole pipeline bootstrapped under a unique prefix,
//! the intake function's handler composed over it exactly as its `main` composes it, and
//! the pieces of S3, SQS and Step Functions the tests look at.
//!
//! The tests need a running moto (`scripts/test` starts `scripts/moto_server.py` and exports
//! `VETTED_TEST_AWS_ENDPOINT`). Without it [`Pipeline::start`] answers `None` and the test
//! returns, skipped with a line saying why, unless `VETTED_TEST_REQUIRE_AWS=1` (set by
//! `scripts/test`) makes that a failure: see `vetted_tests::aws_endpoint`.

// Each test (and the benchmark example, which includes this file) takes what it needs.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sfn::types::ExecutionListItem;
use aws_sdk_sqs::types::Message;
use intake::Config;
use serde_json::Value;
use vetted_aws::bootstrap::{BootstrapOptions, Resources, bootstrap};
use vetted_aws::compose::PipelineConfig;
use vetted_aws::config::AwsContext;
use vetted_aws::dynamo::DynamoUploads;
use vetted_core::intake::Intake;
use vetted_core::policy::SlotPolicies;
use vetted_core::ports::Uploads;
use vetted_core::record::{FileName, UploadMethod};
use vetted_core::{
    Clock, ImageType, OwnerId, Policy, SlotRef, SystemClock, Timestamp, UploadId, UploadRecord,
};
use vetted_lambda::sqs::handle_sqs_batch;

pub const ASL: &str = include_str!("../../statemachine/review.asl.json");
pub const REGION: &str = "us-east-1";
/// The longest any test waits for moto to do something asynchronous.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Clients for the emulator at `endpoint`, with the dummy credentials and region it accepts.
pub async fn context(endpoint: &str) -> AwsContext {
    AwsContext::builder()
        .endpoint_url(endpoint)
        .region(REGION)
        .static_credentials("test", "test")
        .load()
        .await
}

/// A resource prefix no other test or run uses: `label` and 16 random hex digits.
pub fn unique_prefix(label: &str) -> String {
    let id = UploadId::generate().to_string().replace('-', "");
    // The tail of a v7 UUID is random; its head is the clock, shared by tests started together.
    format!("{label}-{}", &id[16..])
}

/// The owner every test upload belongs to.
pub fn owner() -> OwnerId {
    OwnerId::parse("owner-1").unwrap()
}

/// The slot every test upload asks to change.
pub fn slot() -> SlotRef {
    "r1/gallery-1".parse().unwrap()
}

/// The intake function's settings for these resources, as the template would set them.
pub fn function_config(resources: &Resources) -> Config {
    Config {
        common: PipelineConfig {
            bucket: resources.bucket.clone(),
            table: resources.table.clone(),
            restaurants_table: resources.restaurants_table.clone(),
            event_bus: resources.event_bus.clone(),
            media: Default::default(),
        },
        state_machine_arn: resources.state_machine_arn.clone(),
        intake_queue: resources.intake.clone(),
        review_timeout: Duration::from_secs(600),
        escalation: vetted_core::review::EscalationShares::none(),
        policies: SlotPolicies::uniform(Policy::default()),
    }
}

/// A bootstrapped pipeline and the intake function over it.
pub struct Pipeline {
    /// The emulator's URL.
    pub endpoint: String,
    pub ctx: AwsContext,
    pub resources: Resources,
    pub intake: Arc<Intake>,
    pub uploads: Arc<DynamoUploads>,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sfn: aws_sdk_sfn::Client,
}

impl Pipeline {
    /// A pipeline on the emulator, or `None` (the test is skipped) when there is none; see
    /// `vetted_tests::aws_endpoint`.
    pub async fn start(label: &str) -> Option<Self> {
        Self::start_with(label, |_| {}).await
    }

    /// [`Pipeline::start`] with the default options changed by `adjust` (visibility, receives).
    pub async fn start_with(
        label: &str,
        adjust: impl FnOnce(&mut BootstrapOptions<'_>),
    ) -> Option<Self> {
        let endpoint = vetted_tests::aws_endpoint()?;
        Some(Self::on(endpoint, label, adjust).await)
    }

    /// Bootstraps on the emulator at `endpoint`.
    pub async fn on(
        endpoint: String,
        label: &str,
        adjust: impl FnOnce(&mut BootstrapOptions<'_>),
    ) -> Self {
        let ctx = context(&endpoint).await;
        let prefix = unique_prefix(label);
        let mut options = BootstrapOptions::new(&prefix, ASL);
        adjust(&mut options);
        let resources = bootstrap(&ctx, &options).await.expect("bootstrap on moto");
        let intake = Arc::new(intake::intake(&ctx, function_config(&resources)));
        Self {
            intake,
            uploads: Arc::new(resources.uploads(&ctx)),
            s3: ctx.s3(),
            sqs: ctx.sqs(),
            sfn: ctx.sfn(),
            resources,
            ctx,
            endpoint,
        }
    }

    /// An intent, as upload-api records it, valid for five minutes from now.
    pub async fn intent(&self, declared: ImageType, declared_size: u64) -> UploadRecord {
        let now = SystemClock.now();
        let expires = now.saturating_add(Duration::from_secs(300));
        self.intent_at(declared, declared_size, now, expires).await
    }

    /// An intent created at `created` that expires at `expires`.
    pub async fn intent_at(
        &self,
        declared: ImageType,
        declared_size: u64,
        created: Timestamp,
        expires: Timestamp,
    ) -> UploadRecord {
        let intent = UploadRecord::new_intent(
            UploadId::generate(),
            owner(),
            slot(),
            FileName::parse(&format!("upload.{}", declared.extension())).unwrap(),
            declared,
            declared_size,
            UploadMethod::Post,
            created,
            expires,
        );
        self.uploads.create(&intent).await.unwrap();
        intent
    }

    pub async fn record(&self, id: &UploadId) -> UploadRecord {
        self.uploads.get(id).await.unwrap()
    }

    /// Writes an object straight into the bucket (S3 notifies the intake queue).
    pub async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) {
        self.s3
            .put_object()
            .bucket(&self.resources.bucket)
            .key(key)
            .content_type(content_type)
            .body(body.into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key:?}: {e:?}"));
    }

    /// Whether `key` names an object now (not a delete marker).
    pub async fn exists(&self, key: &str) -> bool {
        match self
            .s3
            .head_object()
            .bucket(&self.resources.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => true,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => false,
            Err(e) => panic!("head {key:?}: {e:?}"),
        }
    }

    pub async fn content_type(&self, key: &str) -> Option<String> {
        self.s3
            .head_object()
            .bucket(&self.resources.bucket)
            .key(key)
            .send()
            .await
            .unwrap()
            .content_type
    }

    /// Takes `count` object notifications off the intake queue (deleting them, and the
    /// `s3:TestEvent`), as the event source mapping would hand them to the function.
    pub async fn notifications(&self, count: usize) -> Vec<Message> {
        let deadline = Instant::now() + PATIENCE;
        let mut taken = Vec::new();
        while taken.len() < count {
            assert!(
                Instant::now() < deadline,
                "only {} of {count} notifications arrived",
                taken.len()
            );
            for message in receive(&self.sqs, &self.resources.intake.url, 10).await {
                delete(&self.sqs, &self.resources.intake.url, &message).await;
                if !message.body().unwrap_or_default().contains("s3:TestEvent") {
                    taken.push(message);
                }
            }
        }
        assert_eq!(
            taken.len(),
            count,
            "more notifications than objects written"
        );
        taken
    }

    /// The executions of the review state machine, all statuses.
    pub async fn executions(&self) -> Vec<ExecutionListItem> {
        self.sfn
            .list_executions()
            .state_machine_arn(&self.resources.state_machine_arn)
            .send()
            .await
            .unwrap()
            .executions
    }

    /// The first message on the sanitize queue, within [`PATIENCE`] (moto runs executions in
    /// the background).
    pub async fn first_sanitize_task(&self) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(message) = receive(&self.sqs, &self.resources.sanitize.url, 1)
                .await
                .pop()
            {
                return serde_json::from_str(message.body().unwrap()).unwrap();
            }
            assert!(Instant::now() < deadline, "no sanitize task appeared");
        }
    }

    /// Runs the intake function on `messages` as one batch.
    pub async fn invoke(&self, messages: &[Message]) -> SqsBatchResponse {
        handle_sqs_batch(self.intake.as_ref(), sqs_event(messages)).await
    }
}

/// Up to `max` messages, waiting at most a second.
pub async fn receive(sqs: &aws_sdk_sqs::Client, url: &str, max: i32) -> Vec<Message> {
    sqs.receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .wait_time_seconds(1)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
}

pub async fn delete(sqs: &aws_sdk_sqs::Client, url: &str, message: &Message) {
    sqs.delete_message()
        .queue_url(url)
        .receipt_handle(message.receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
}

/// The Lambda event the SQS event source mapping builds from received messages.
pub fn sqs_event(messages: &[Message]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id.clone();
            record.receipt_handle = m.receipt_handle.clone();
            record.body = m.body.clone();
            record.md5_of_body = m.md5_of_body.clone();
            record.event_source = Some("aws:sqs".to_owned());
            record.aws_region = Some(REGION.to_owned());
            record
        })
        .collect();
    event
}

/// The ids the function reported as failed.
pub fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

/// The embedded adapters a scenario runs on when it does not run on moto: one SQLite
/// database and one file store in a directory, work queues that dead-letter after
/// `max_receives`, the review workflow over the sanitize and review-task queues, and the
/// ports over all of them.
pub struct EmbeddedRig {
    pub db: vetted_embedded::db::Db,
    config: vetted_embedded::sqlite_queue::QueueConfig,
    pub sanitize_queue: Arc<vetted_embedded::sqlite_queue::SqliteWorkQueue>,
    pub tasks_queue: Arc<vetted_embedded::sqlite_queue::SqliteWorkQueue>,
    pub engine: vetted_embedded::workflow::EmbeddedWorkflow,
    pub ports: vetted_core::Ports,
}

impl EmbeddedRig {
    pub async fn open(dir: &std::path::Path, max_receives: u32) -> Self {
        use vetted_embedded::sqlite_queue::{QueueConfig, SqliteWorkQueue};
        let db = vetted_embedded::db::Db::open(dir.join("vetted.db"))
            .await
            .unwrap();
        let clock: Arc<dyn vetted_core::Clock> = Arc::new(vetted_core::SystemClock);
        let config = QueueConfig {
            visibility_timeout: Duration::from_secs(30),
            max_receives,
        };
        let queue = |name| Arc::new(SqliteWorkQueue::new(db.clone(), name, config));
        let (sanitize_queue, tasks_queue) = (queue("sanitize"), queue("review-tasks"));
        let engine = vetted_embedded::workflow::EmbeddedWorkflow::open_review(
            db.clone(),
            ASL,
            sanitize_queue.clone(),
            tasks_queue.clone(),
            clock.clone(),
        )
        .await
        .unwrap();
        let ports = vetted_core::Ports {
            uploads: Arc::new(vetted_embedded::sqlite_uploads::SqliteUploads::new(
                db.clone(),
            )),
            restaurants: Arc::new(vetted_embedded::sqlite_restaurants::SqliteRestaurants::new(
                db.clone(),
            )),
            banned: Arc::new(vetted_embedded::sqlite_banned::SqliteBanned::new(
                db.clone(),
            )),
            audit: Arc::new(vetted_embedded::sqlite_audit::SqliteAudit::new(db.clone())),
            objects: Arc::new(
                vetted_embedded::fs_store::FsObjectStore::new(dir.join("objects")).unwrap(),
            ),
            events: Arc::new(vetted_embedded::outbox::SqliteOutbox::new(
                db.clone(),
                clock.clone(),
            )),
            clock,
            media: Default::default(),
        };
        Self {
            db,
            config,
            sanitize_queue,
            tasks_queue,
            engine,
            ports,
        }
    }

    /// Another queue in the same database, with the same settings.
    pub fn queue(&self, name: &'static str) -> Arc<vetted_embedded::sqlite_queue::SqliteWorkQueue> {
        Arc::new(vetted_embedded::sqlite_queue::SqliteWorkQueue::new(
            self.db.clone(),
            name,
            self.config,
        ))
    }

    /// Intake over these ports, starting reviews through `reviews`, under the default policy,
    /// a ten-minute review, no escalation and no deferral.
    pub fn intake(&self, reviews: Arc<dyn vetted_core::ports::ReviewStarter>) -> Intake {
        Intake {
            ports: self.ports.clone(),
            reviews,
            policies: SlotPolicies::uniform(vetted_core::Policy::default()),
            bucket: "vetted".to_owned(),
            review_timeout: Duration::from_secs(600),
            escalation: vetted_core::review::EscalationShares::none(),
            deferral: vetted_core::intake::Deferral::none(),
        }
    }
}
