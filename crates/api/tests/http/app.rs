//! `spawn_app`: the API on a loopback port over a fresh data directory, and request helpers.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tempfile::TempDir;
use vetted_api::auth::{DevKey, JwksVerifier, OidcConfig, Role};
use vetted_api::{ApiParts, ApiSettings, ApiState, Authenticator};
use vetted_aws::presign::S3Presigner;
use vetted_core::media::MediaUrls;
use vetted_core::policy::SlotPolicies;
use vetted_core::ports::Restaurants;
use vetted_core::ports::UploadSigner;
use vetted_core::ports::{EventSink, WorkQueue};
use vetted_core::presign::{BucketEndpoint, S3Target};
use vetted_core::restaurant::{Member, MemberRole, Restaurant};
use vetted_core::review::Review;
use vetted_core::review::sanitize::DEFAULT_MAX_DECODE_ALLOC;
use vetted_core::time::ManualClock;
use vetted_core::{Clock, OwnerId, Policy, Ports, RestaurantId, SystemClock};
use vetted_embedded::db::Db;
use vetted_embedded::fs_store::FsObjectStore;
use vetted_embedded::outbox::SqliteOutbox;
use vetted_embedded::sqlite_invitations::SqliteInvitations;
use vetted_embedded::sqlite_notifications::SqliteNotifications;
use vetted_embedded::sqlite_queue::{QueueConfig, SqliteWorkQueue};
use vetted_embedded::sqlite_restaurants::SqliteRestaurants;
use vetted_embedded::sqlite_uploads::SqliteUploads;
use vetted_embedded::sqlite_webhooks::SqliteWebhooks;
use vetted_embedded::workflow::{EmbeddedWorkflow, substitute};
use vetted_s3_endpoint::{Credentials as EndpointCredentials, S3Config, S3Endpoint};

/// The dev key of every test app, so that tests can also sign tokens it must refuse.
pub const DEV_SECRET: [u8; 32] = [42; 32];
pub const BUCKET: &str = "vetted-test";
pub const ACCESS_KEY: &str = "vetted-test-key";
pub const SECRET_KEY: &str = "vetted-test-secret";
/// Every test app has this restaurant, with [`OWNER`] as its owner.
pub const RESTAURANT: &str = "r1";
pub const OWNER: &str = "owner-1";
/// Where the test apps say published images are served.
pub const MEDIA_BASE: &str = "http://media.test";

#[derive(Default)]
pub struct AppOptions {
    pub settings: ApiSettings,
    /// Every slot kind under this policy, unless `policies` is set.
    pub policy: Policy,
    pub policies: Option<SlotPolicies>,
    pub signer: Option<Arc<dyn UploadSigner>>,
    pub oidc: Option<OidcConfig>,
    /// Where the app's clock starts; now when `None`.
    pub clock_start: Option<vetted_core::Timestamp>,
    /// Admit webhook URLs on loopback and private addresses (off, as in production).
    pub allow_private_webhooks: bool,
    /// The live event stream's limits.
    pub live: vetted_api::LiveLimits,
    /// No event feed, as on AWS: the stream's route is not mounted.
    pub without_live: bool,
    /// What ends the live streams, as `vetted serve`'s shutdown does; never cancelled if `None`.
    pub shutdown: Option<tokio_util::sync::CancellationToken>,
    /// Sign for the app's own upload endpoint (mounted at `/s3`, as `vetted serve` mounts it),
    /// so that clients can send what the API signs; `signer` is then ignored.
    pub sign_for_own_endpoint: bool,
}

pub struct TestApp {
    pub base: String,
    /// The ports the API and the review run over, for tests that drive intake themselves.
    pub ports: Ports,
    pub http: reqwest::Client,
    pub uploads: Arc<SqliteUploads>,
    pub restaurants: Arc<SqliteRestaurants>,
    pub objects: Arc<FsObjectStore>,
    pub clock: Arc<ManualClock>,
    pub dev_key: DevKey,
    pub workflow: Arc<EmbeddedWorkflow>,
    pub review: Arc<Review>,
    pub outbox: Arc<SqliteOutbox>,
    pub webhooks: Arc<SqliteWebhooks>,
    pub notifications: Arc<SqliteNotifications>,
    pub invitations: Arc<SqliteInvitations>,
    /// The upload endpoint mounted at `/s3`, and the queue its notifications go to.
    pub endpoint: Arc<S3Endpoint>,
    pub intake_queue: Arc<SqliteWorkQueue>,
    /// The workflow's task queues, worked by [`TestApp::pump`].
    pub task_queues: Vec<Arc<SqliteWorkQueue>>,
    _dir: TempDir,
}

const ASL: &str = include_str!("../../../../statemachine/review.asl.json");
const SANITIZE_QUEUE: &str = "embedded://queues/sanitize";
const REVIEW_TASKS_QUEUE: &str = "embedded://queues/review-tasks";

pub async fn spawn_app() -> TestApp {
    spawn_with(AppOptions::default()).await
}

pub fn local_signer(base_url: &str) -> Arc<dyn UploadSigner> {
    let endpoint = BucketEndpoint::PathStyle {
        base_url: base_url.to_owned(),
    };
    let target = S3Target::new(BUCKET, "us-east-1", endpoint).unwrap();
    Arc::new(S3Presigner::with_static_credentials(
        target, ACCESS_KEY, SECRET_KEY,
    ))
}

pub async fn spawn_with(options: AppOptions) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("vetted.db")).await.unwrap();
    let uploads = Arc::new(SqliteUploads::new(db.clone()));
    let restaurants = Arc::new(SqliteRestaurants::new(db.clone()));
    let invitations = Arc::new(SqliteInvitations::new(db.clone()));
    let objects = Arc::new(FsObjectStore::new(dir.path().join("objects")).unwrap());
    let clock = Arc::new(ManualClock::new(
        options.clock_start.unwrap_or_else(|| SystemClock.now()),
    ));
    let largest_upload = policies_max_bytes(&options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let signer = match (options.sign_for_own_endpoint, options.signer) {
        (true, _) => local_signer(&format!("{base}/s3")),
        (false, Some(signer)) => signer,
        (false, None) => local_signer("http://127.0.0.1:9/s3"),
    };
    let oidc = options.oidc.map(|c| JwksVerifier::new(c).unwrap());
    let auth = Authenticator::new(Some(DevKey::from_secret(&DEV_SECRET)), oidc).unwrap();
    let mut settings = options.settings;
    settings.temp_dir = Some(dir.path().to_owned());
    let queue_config = QueueConfig {
        visibility_timeout: Duration::from_secs(30),
        max_receives: 5,
    };
    let task_queues = vec![
        Arc::new(SqliteWorkQueue::new(db.clone(), "sanitize", queue_config)),
        Arc::new(SqliteWorkQueue::new(
            db.clone(),
            "review-tasks",
            queue_config,
        )),
    ];
    let queue_map = [SANITIZE_QUEUE, REVIEW_TASKS_QUEUE]
        .into_iter()
        .zip(&task_queues)
        .map(|(url, queue)| (url.to_owned(), queue.clone() as Arc<dyn WorkQueue>))
        .collect();
    let asl = substitute(
        ASL,
        &[
            ("SanitizeQueueUrl", SANITIZE_QUEUE),
            ("ReviewTasksQueueUrl", REVIEW_TASKS_QUEUE),
        ],
    )
    .unwrap();
    let workflow = Arc::new(
        EmbeddedWorkflow::open(db.clone(), &asl, queue_map, clock.clone())
            .await
            .unwrap(),
    );
    let webhooks = Arc::new(SqliteWebhooks::new(db.clone()));
    let notifications = Arc::new(SqliteNotifications::new(db.clone()));
    let audit = Arc::new(vetted_embedded::sqlite_audit::SqliteAudit::new(db.clone()));
    let banned = Arc::new(vetted_embedded::sqlite_banned::SqliteBanned::new(
        db.clone(),
    ));
    let intake_queue = Arc::new(SqliteWorkQueue::new(db.clone(), "intake", queue_config));
    let outbox = Arc::new(SqliteOutbox::new(db, clock.clone()));
    let mut endpoint_config = S3Config::new(
        BUCKET,
        "us-east-1",
        EndpointCredentials {
            access_key_id: ACCESS_KEY.to_owned(),
            secret_access_key: SECRET_KEY.to_owned(),
        },
        dir.path().join("spool"),
        base.clone(),
    );
    endpoint_config.max_object_bytes = largest_upload;
    let endpoint = S3Endpoint::new(
        endpoint_config,
        objects.clone(),
        intake_queue.clone(),
        clock.clone(),
    )
    .unwrap();
    let ports = Ports {
        uploads: uploads.clone(),
        restaurants: restaurants.clone(),
        audit: audit.clone(),
        banned,
        objects: objects.clone(),
        events: outbox.clone() as Arc<dyn EventSink>,
        clock: clock.clone(),
        media: MediaUrls::Serve {
            base: MEDIA_BASE.to_owned(),
        },
    };
    let policies = options
        .policies
        .unwrap_or_else(|| SlotPolicies::uniform(options.policy));
    let review = Arc::new(Review {
        ports: ports.clone(),
        tasks: workflow.clone(),
        policies: policies.clone(),
        max_decode_alloc: DEFAULT_MAX_DECODE_ALLOC,
        memory: vetted_core::review::sanitize::budget::MemoryBudget::default(),
        // No scanner, and unscanned uploads proceed: these tests are about other steps.
        scanning: vetted_core::review::Scanning::without_scanner(true),
    });
    let state = ApiState::new(ApiParts {
        ports: ports.clone(),
        signer,
        multipart: endpoint.clone(),
        policies,
        auth,
        settings,
        review: review.clone(),
        webhooks: Some(vetted_api::WebhookApi {
            store: webhooks.clone(),
            allow_private: options.allow_private_webhooks,
        }),
        notifications: Some(notifications.clone()),
        live: (!options.without_live).then(|| {
            vetted_api::LiveApi::new(
                outbox.clone(),
                options.live,
                options.shutdown.clone().unwrap_or_default(),
            )
        }),
        // `/auth/*` has its own suite, over both account backends: `tests/accounts`.
        accounts: None,
        invitations: Some(invitations.clone()),
        admin: Some(vetted_api::AdminApi {
            intake: Arc::new(vetted_core::intake::Intake {
                ports: ports.clone(),
                reviews: workflow.clone(),
                policies: review.policies.clone(),
                bucket: "vetted".to_owned(),
                review_timeout: Duration::from_secs(600),
                escalation: vetted_core::review::EscalationShares::none(),
                deferral: vetted_core::intake::Deferral::none(),
            }),
            queues: vec![
                vetted_core::admin::NamedQueue {
                    name: "sanitize",
                    queue: task_queues[0].clone(),
                },
                vetted_core::admin::NamedQueue {
                    name: "review-tasks",
                    queue: task_queues[1].clone(),
                },
            ],
        }),
    })
    .unwrap();
    let restaurant = Restaurant {
        id: RestaurantId::parse(RESTAURANT).unwrap(),
        name: "Restaurant One".to_owned(),
        created_at: clock.now(),
    };
    restaurants.create(&restaurant).await.unwrap();
    restaurants
        .put_member(&restaurant.id, &member(OWNER, MemberRole::Owner))
        .await
        .unwrap();
    let router = vetted_api::router(state).merge(endpoint.router());
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    TestApp {
        base,
        ports,
        http: http_client(),
        uploads,
        restaurants,
        objects,
        clock,
        dev_key: DevKey::from_secret(&DEV_SECRET),
        workflow,
        review,
        outbox,
        webhooks,
        notifications,
        invitations,
        endpoint,
        intake_queue,
        task_queues,
        _dir: dir,
    }
}

/// The largest file any slot's policy admits: the endpoint's ceiling, as `vetted serve` sets it.
fn policies_max_bytes(options: &AppOptions) -> u64 {
    match &options.policies {
        Some(policies) => vetted_core::SlotKind::ALL
            .iter()
            .map(|kind| policies.for_kind(*kind).max_bytes)
            .max()
            .unwrap_or(options.policy.max_bytes),
        None => options.policy.max_bytes,
    }
}

pub fn member(user: &str, role: MemberRole) -> Member {
    Member {
        user: OwnerId::parse(user).unwrap(),
        role,
        added_at: SystemClock.now(),
    }
}

impl TestApp {
    /// Makes `user` staff of [`RESTAURANT`], straight in the store.
    pub async fn join(&self, user: &str) {
        let id = RestaurantId::parse(RESTAURANT).unwrap();
        self.restaurants
            .put_member(&id, &member(user, MemberRole::Staff))
            .await
            .unwrap();
    }

    /// Creates a restaurant (unless it exists) with `owner` as an owner, straight in the store.
    pub async fn restaurant(&self, id: &str, owner: &str) -> RestaurantId {
        let id = RestaurantId::parse(id).unwrap();
        let restaurant = Restaurant {
            id: id.clone(),
            name: format!("Restaurant {id}"),
            created_at: self.clock.now(),
        };
        match self.restaurants.create(&restaurant).await {
            Ok(()) | Err(vetted_core::ports::RestaurantsError::AlreadyExists(_)) => {}
            Err(e) => panic!("{e}"),
        }
        self.restaurants
            .put_member(&id, &member(owner, MemberRole::Owner))
            .await
            .unwrap();
        id
    }

    pub fn admin(&self, user: &str) -> String {
        self.dev_key
            .issue_roles(
                user,
                &[Role::Moderator, Role::Admin],
                Duration::from_secs(600),
                SystemClock.now(),
            )
            .unwrap()
    }

    pub async fn put(&self, token: &str, path: &str, body: &str) -> (StatusCode, Value) {
        self.send_json(reqwest::Method::PUT, token, path, body)
            .await
    }

    pub async fn patch(&self, token: &str, path: &str, body: &str) -> (StatusCode, Value) {
        self.send_json(reqwest::Method::PATCH, token, path, body)
            .await
    }

    /// `method` of `path` with a JSON `body` sent as it is (so malformed bodies can be sent).
    async fn send_json(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: &str,
    ) -> (StatusCode, Value) {
        let response = self
            .http
            .request(method, self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        read(response).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> StatusCode {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn token(&self, user: &str, role: Role) -> String {
        self.dev_key
            .issue(user, role, Duration::from_secs(600), SystemClock.now())
            .unwrap()
    }

    pub fn owner(&self, user: &str) -> String {
        self.token(user, Role::Owner)
    }

    pub fn moderator(&self, user: &str) -> String {
        self.token(user, Role::Moderator)
    }

    /// Works the workflow's task messages through the core's review workers, as the task
    /// workers of `vetted serve` do, until both queues are empty.
    pub async fn pump(&self) {
        loop {
            let mut handled = 0;
            for queue in &self.task_queues {
                for message in queue.receive(10, Duration::ZERO).await.unwrap() {
                    self.review.handle_message(&message.body).await.unwrap();
                    queue.ack(&message.receipt).await.unwrap();
                    handled += 1;
                }
            }
            if handled == 0 {
                return;
            }
        }
    }

    /// `POST /api/uploads` with a raw body.
    pub async fn create_raw(&self, token: &str, body: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url("/api/uploads"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        read(response).await
    }

    pub async fn create(&self, token: &str, body: Value) -> (StatusCode, Value) {
        self.create_raw(token, &body.to_string()).await
    }

    pub async fn post(&self, token: &str, path: &str, body: &str) -> (StatusCode, Value) {
        self.send_json(reqwest::Method::POST, token, path, body)
            .await
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        read(response).await
    }

    /// How many uploads the owner has: proof that a refused request wrote nothing.
    pub async fn count(&self, owner: &str) -> usize {
        let (status, body) = self.get(&self.owner(owner), "/api/uploads?limit=100").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["items"].as_array().unwrap().len()
    }
}

/// Status and JSON body; every body the API sends is JSON, and every answer, errors
/// included, is kept out of caches and from type sniffing.
pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header("cache-control").as_deref(),
        Some("no-store"),
        "{status} {}: Cache-Control",
        response.url().path()
    );
    assert_eq!(
        header("x-content-type-options").as_deref(),
        Some("nosniff"),
        "{status} {}: X-Content-Type-Options",
        response.url().path()
    );
    let text = response.text().await.unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}"));
    (status, body)
}

/// Asserts an error answer: its status, its reason code, and the error schema.
pub fn assert_error(answer: &(StatusCode, Value), status: StatusCode, reason: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["reason"], reason, "{}", answer.1);
    crate::schemas::assert_matches("error.json", &answer.1);
}

/// A request for a PNG in [`RESTAURANT`]'s first gallery slot.
pub fn png_request(size: u64) -> Value {
    serde_json::json!({
        "restaurant": RESTAURANT,
        "slot": "gallery-1",
        "filename": "logo.png",
        "content_type": "image/png",
        "size": size,
    })
}

/// A plain HTTP client for the tests, after installing the crypto provider reqwest needs.
pub fn http_client() -> reqwest::Client {
    vetted_api::install_crypto_provider();
    reqwest::Client::new()
}
