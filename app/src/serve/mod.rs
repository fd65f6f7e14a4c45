//! `vetted serve`: the whole pipeline in one process.
//!
//! One tokio runtime runs, each as a task: the HTTP server (the API, the web pages and, on
//! the embedded backend, the S3-compatible upload endpoint), a worker per queue (intake,
//! sanitize, review tasks), the workflow engine's timers and the event outbox (embedded), and
//! a maintenance loop (lost notifications, stale intents, undelivered decisions). Ctrl-C or
//! SIGTERM stops taking work and lets what is in hand finish. [`serve()`] starts it all on a
//! listener the caller bound (tests run it in-process); [`run`] is the command around it.
//!
//! Being killed instead loses nothing: every step is durable before it is acknowledged, and
//! on the next start the queues redeliver what was in flight, the engine resumes its
//! executions, and the maintenance loop finds uploads whose notification never left.

#[cfg(feature = "aws")]
mod aws;
mod config;
mod demo;
mod embedded;
mod listen;
mod media;
mod metrics;
mod notifier;
mod owner_mail;
mod pipeline;
mod presign;
mod running;
mod web;
mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use vetted_api::accounts::{AccountsApi, AuthGuard, AuthLimits};
use vetted_api::auth::{JwksVerifier, LocalIssuer};
use vetted_api::restaurants::invitations::InvitationAcceptor;
use vetted_api::{ApiParts, ApiSettings, ApiState, Authenticator, LiveApi, LiveLimits};
use vetted_core::Clock;
use vetted_core::intake::{Deferral, Intake};
use vetted_core::maintenance;
use vetted_core::media::MediaUrls;
use vetted_core::ports::Webhooks;
use vetted_core::review::sanitize::DEFAULT_MAX_DECODE_ALLOC;
use vetted_core::review::sanitize::budget::MemoryBudget;
use vetted_core::review::{Review, Scanning};
use vetted_core::settings::Env;
use vetted_core::webhooks::{Endpoint, EndpointId};
use vetted_core::{Ports, QueueService};
use vetted_embedded::sqlite_accounts::{AccountLimits, SqliteAccounts};
use vetted_embedded::sqlite_invitations::SqliteInvitations;
use vetted_webhooks::{DeliverySettings, DeliveryWorker};

use crate::token::DEFAULT_DATA_DIR;
use config::ServeConfig;
use pipeline::{Backend, Pipeline};
use worker::{WorkerSettings, run_worker};

pub use running::{DRAIN_LIMIT, DemoAccess, Running, serve};
/// The role a dev token grants, for [`Running::token`].
pub use vetted_api::auth::Role;

const SETTINGS_HELP: &str = "\
Settings file (--config), every key optional:

  review_timeout_seconds = 259200   # how long a moderator has (72 h)
  review_escalation_percent = [50, 90]  # escalate at these shares of it ([]: never)
  presign_expiry_seconds = 300      # how long an upload permission lasts
  sanitize_memory_mib = 1024        # shared by the sanitizes running at once
  quarantine_retention_days = 30    # rejected objects are deleted after (embedded)

  [policy]                          # what an upload must be, for every slot kind
  allowed_types = [\"image/jpeg\", \"image/png\", \"image/webp\"]
  max_bytes = 20971520              # (see vetted inspect --help for every field)
  gallery_positions = 12            # slots gallery-1 … gallery-12

  [policy.logo]                     # one kind's own rules: logo, cover or gallery
  min_side = 512                    # defaults: logo 512 px, 1:1 to 4:1, 5 MiB;
  min_aspect = \"1:1\"                # cover 480 px, 1.6:1 to 1.956:1 (16:9 ± 10 %);
  max_aspect = \"4:1\"                # gallery 64 px, 1:4 to 4:1

  [workers]                         # messages handled at once
  intake = 16
  sanitize = 2                      # default: the number of cores
  review_tasks = 16

  [[webhooks]]                      # made an endpoint at start if its URL is new;
  url = \"https://example.com/vetted\" # more with the admin API (POST /api/webhooks)
  secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"   # Standard Webhooks secret

  [webhook_delivery]
  allow_private_addresses_for_development = false   # development only: http, loopback, private
  retry_delays_seconds = [30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800]

  [http]                            # what one slow or idle client may hold
  header_timeout_seconds = 10       # a whole request head; also an idle connection's life
  body_stall_timeout_seconds = 30   # a body that sends nothing this long gets 400
  max_connections = 1024            # open at once; more wait in the listen backlog
  [mail]                            # owner emails (GET/PUT /api/me/notifications)
  from = \"Vetted <vetted@example.com>\"   # on --backend aws: the SES identity
  public_url = \"https://vetted.example\"  # links in emails (default: the server's URL)

  [mail.smtp]                       # without it: {data}/outbox-mail/*.eml
  host = \"smtp.example.com\"
  port = 587
  tls = \"starttls\"                  # none (local only), starttls or tls
  username = \"vetted\"               # password: VETTED_SMTP_PASSWORD (or password = ...)
  password = \"change-me\"

  [oidc]                            # also accept RS256 tokens from an OIDC issuer
  jwks_url = \"https://cognito-idp.REGION.amazonaws.com/POOL/.well-known/jwks.json\"
  issuer = \"https://cognito-idp.REGION.amazonaws.com/POOL\"
  audience = \"APP_CLIENT_ID\"        # optional; roles come from cognito:groups
  # Dev tokens from `vetted token` (HS256, key under --data) are always accepted.

  [scan]                            # malware scan before review; only clean proceeds
  clamd = \"unix:/run/clamav/clamd.ctl\"  # or host:port; unset: no scanner (skipped)
  timeout_seconds = 60              # connect to answer; past it the upload is FAILED
  allow_skipped = false             # unscanned uploads proceed? default: no (--demo: yes)

  [metrics]                         # GET /metrics, Prometheus text; off without a token
  bearer_token = \"a-long-random-string-of-32-or-more-chars\"   # or VETTED_METRICS_TOKEN

Environment: VETTED_POLICY_<SETTING> (e.g. VETTED_POLICY_MAX_BYTES),
VETTED_REVIEW_TIMEOUT_SECONDS, VETTED_REVIEW_ESCALATION_PERCENT (e.g. 50,90 or none)
VETTED_PRESIGN_EXPIRY_SECONDS, VETTED_CLAMD, VETTED_SCAN_TIMEOUT_SECONDS and
VETTED_SCAN_ALLOW_SKIPPED override the file;
VETTED_LOG sets the log filter (e.g. debug, or vetted_core=debug,info);
VETTED_LOG_FORMAT=json (or --log-format json) logs one JSON object a line, each with the
request's request_id (X-Request-Id) and, where an upload is in scope, its correlation_id.

Being killed loses nothing: on the next start, work in flight is redelivered and
executions resume. Data layout (embedded): vetted.db (also the accounts people sign up
with on the pages), objects/, spool/, dev-jwt.key, accounts-signing-key.pem (signs their
tokens; its public half is at /.well-known/jwks.json), s3-credentials.json and, without
[mail.smtp], outbox-mail/ (sign-up codes and owner emails as .eml files) under --data.
The first admin: sign up on the page, then `vetted users grant EMAIL admin`.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// Files and SQLite under --data, an embedded workflow engine and upload endpoint.
    Embedded,
    /// S3, DynamoDB, SQS, Step Functions and EventBridge (or an emulator of them).
    #[cfg_attr(
        not(feature = "aws"),
        doc = "Not in this build: it needs the `aws` feature (cargo install --path app --features aws)."
    )]
    Aws,
}

impl BackendChoice {
    pub fn name(self) -> &'static str {
        match self {
            BackendChoice::Embedded => "embedded",
            BackendChoice::Aws => "aws",
        }
    }
}

/// Run the whole pipeline on this machine: upload and review APIs, the owner page and the
/// moderator console, the S3-compatible upload endpoint, and every worker.
///
/// Example: `vetted serve --demo`, then open the owner page it prints.
#[derive(Debug, Args)]
#[command(after_long_help = SETTINGS_HELP)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "VETTED_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub settings: ServeSettings,
}

/// Everything [`serve()`] needs besides its listener; the command line's arguments, or
/// [`ServeSettings::new`] and its fields in code.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ServeSettings {
    /// Where the embedded backend keeps everything; also holds the dev-token key.
    #[arg(long, env = "VETTED_DATA", default_value = DEFAULT_DATA_DIR)]
    pub data: PathBuf,
    /// Which parts run the pipeline.
    #[arg(long, value_enum, default_value = "embedded")]
    pub backend: BackendChoice,
    /// A TOML file of settings (policy, review timeout, workers, webhooks).
    #[arg(long, env = "VETTED_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seed sample uploads, good and bad, and print ready owner and moderator tokens.
    #[arg(long)]
    pub demo: bool,
    /// Let uploads proceed unscanned when no malware scanner is configured (the default
    /// only with --demo); see [scan] in the settings file.
    #[arg(long)]
    pub allow_unscanned: bool,
    /// The URL browsers reach this server at, if it is not http://ADDR (behind a proxy).
    #[arg(long, env = "VETTED_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// With --backend aws: an emulator's URL (moto); serve creates what it needs there.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// With --backend aws: the resources to use, as `vetted aws bootstrap --write` writes them.
    #[arg(long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    /// With --backend aws and --endpoint-url: the prefix of the resources' names.
    #[arg(long, default_value = "vetted")]
    pub prefix: String,
}

impl ServeSettings {
    /// The defaults, letting uploads proceed unscanned (`--allow-unscanned`): for tests about
    /// other steps than the scan.
    pub fn unscanned(data: impl Into<PathBuf>) -> Self {
        Self {
            allow_unscanned: true,
            ..Self::new(data)
        }
    }

    /// The command line's defaults (embedded backend, no settings file, no demo), on `data`.
    pub fn new(data: impl Into<PathBuf>) -> Self {
        Self {
            data: data.into(),
            backend: BackendChoice::Embedded,
            config: None,
            demo: false,
            allow_unscanned: false,
            public_url: None,
            endpoint_url: None,
            resources: None,
            prefix: "vetted".to_owned(),
        }
    }
}

/// `vetted serve`: listens on `--addr`, starts [`serve()`], prints the banner, and stops on
/// Ctrl-C or SIGTERM, letting the work in hand finish.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    crate::private_files::warn_if_shared(&args.settings.data);
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("listening on {}", args.addr))?;
        let running = serve(listener, args.settings, CancellationToken::new()).await?;
        print_banner(&running);
        wait_for_stop_signal().await;
        info!("stopping: finishing the work in hand");
        running.stop().await;
        Ok(())
    })
}

/// The core services every worker and the API share.
#[derive(Clone)]
struct Services {
    ports: Ports,
    intake: Arc<Intake>,
    review: Arc<Review>,
}

impl Services {
    fn new(
        pipeline: &Pipeline,
        config: &ServeConfig,
        scanning: Scanning,
        clock: Arc<dyn Clock>,
        public_url: &str,
    ) -> Self {
        let ports = Ports {
            uploads: pipeline.uploads.clone(),
            restaurants: pipeline.restaurants.clone(),
            objects: pipeline.objects.clone(),
            events: pipeline.events.clone(),
            clock,
            audit: pipeline.audit.clone(),
            banned: pipeline.banned.clone(),
            // Both backends: serve answers /media from the object store.
            media: MediaUrls::Serve {
                base: public_url.to_owned(),
            },
        };
        let intake = Arc::new(Intake {
            ports: ports.clone(),
            reviews: pipeline.workflow.clone(),
            policies: config.policies.clone(),
            bucket: pipeline.bucket.clone(),
            review_timeout: config.review_timeout(),
            // Checked by `ServeConfig::load`.
            escalation: config.review_escalation().unwrap_or_default(),
            // A throttled review start (Step Functions on the AWS backend; the embedded engine
            // never throttles) comes back through intake's own queue, delayed.
            deferral: Deferral::via(pipeline.intake_queue.clone()),
        });
        let review = Arc::new(Review {
            ports: ports.clone(),
            tasks: pipeline.workflow.clone(),
            policies: config.policies.clone(),
            max_decode_alloc: DEFAULT_MAX_DECODE_ALLOC,
            memory: MemoryBudget::new(config.sanitize_memory_mib * 1024 * 1024),
            scanning,
        });
        Self {
            ports,
            intake,
            review,
        }
    }
}

fn api_state(
    pipeline: &Pipeline,
    config: &ServeConfig,
    args: &ServeSettings,
    services: &Services,
    mailer: Option<Arc<dyn vetted_core::ports::Mailer>>,
    shutdown: &CancellationToken,
) -> anyhow::Result<ApiState> {
    let settings = ApiSettings {
        presign_expires_in: Duration::from_secs(config.presign_expiry_seconds),
        temp_dir: Some(args.data.join("spool").join("api")),
        ..ApiSettings::default()
    }
    .with_env(&Env::from_process())?;
    if let Some(dir) = &settings.temp_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut auth = Authenticator::new(
        Some(pipeline.dev_key.clone()),
        config
            .oidc
            .clone()
            .map(JwksVerifier::new)
            .transpose()
            .context("[oidc]: building the JWKS client")?,
    )?;
    // Sign-up and sign-in on one machine: the user store in the database, its codes through
    // the same mailer as owner emails, and its tokens verified like Cognito's.
    let invitations: Option<Arc<dyn vetted_core::ports::Invitations>> = match &pipeline.backend {
        Backend::Embedded { db, .. } => Some(Arc::new(SqliteInvitations::new(db.clone()))),
        Backend::Aws { .. } => None,
    };
    let accounts = match (&pipeline.backend, mailer) {
        (Backend::Embedded { db, issuer, .. }, Some(mailer)) => {
            auth = auth.with_issuer(
                JwksVerifier::with_keys(LocalIssuer::oidc_config(), issuer.jwks())
                    .context("the account store's verifier")?,
            );
            let clock = services.ports.clock.clone();
            Some(AccountsApi {
                accounts: Arc::new(SqliteAccounts::new(
                    db.clone(),
                    mailer,
                    issuer.clone(),
                    clock.clone(),
                    AccountLimits::default(),
                )),
                guard: Arc::new(AuthGuard::new(AuthLimits::default(), clock)),
                jwks: Some(Arc::new(issuer.jwks().clone())),
                invitations: invitations.clone().map(|invitations| {
                    Arc::new(InvitationAcceptor {
                        invitations,
                        restaurants: services.ports.restaurants.clone(),
                        clock: services.ports.clock.clone(),
                    }) as Arc<dyn vetted_api::accounts::AcceptInvitations>
                }),
            })
        }
        // On AWS, Cognito is the account service; `serve --backend aws` takes dev tokens.
        _ => None,
    };
    Ok(ApiState::new(ApiParts {
        ports: services.ports.clone(),
        signer: pipeline.signer.clone(),
        multipart: pipeline.multipart.clone(),
        policies: config.policies.clone(),
        auth,
        accounts,
        invitations,
        settings,
        review: services.review.clone(),
        notifications: pipeline.notifications.clone(),
        webhooks: match &pipeline.backend {
            Backend::Embedded { webhooks, .. } => Some(vetted_api::WebhookApi {
                store: webhooks.clone(),
                allow_private: config
                    .webhook_delivery
                    .allow_private_addresses_for_development,
            }),
            // On AWS the address guard is always on.
            Backend::Aws { webhooks, .. } => webhooks.clone().map(|store| vetted_api::WebhookApi {
                store,
                allow_private: false,
            }),
        },
        // The outbox is the feed; on AWS the route answers 404 and the owner page polls.
        live: match &pipeline.backend {
            Backend::Embedded { outbox, .. } => Some(LiveApi::new(
                outbox.clone(),
                LiveLimits::default(),
                shutdown.clone(),
            )),
            Backend::Aws { .. } => None,
        },
        admin: Some(admin_api(pipeline, services)),
    })?)
}

/// `/api/admin/*` over this process's intake and work queues, on either backend.
fn admin_api(pipeline: &Pipeline, services: &Services) -> vetted_api::AdminApi {
    use vetted_core::admin::NamedQueue;
    let mut queues = vec![
        NamedQueue {
            name: "intake",
            queue: pipeline.intake_queue.clone(),
        },
        NamedQueue {
            name: "sanitize",
            queue: pipeline.sanitize_queue.clone(),
        },
        NamedQueue {
            name: "review-tasks",
            queue: pipeline.review_tasks_queue.clone(),
        },
    ];
    if let Some(notify) = &pipeline.notify_queue {
        queues.push(NamedQueue {
            name: "notify",
            queue: notify.clone(),
        });
    }
    vetted_api::AdminApi {
        intake: services.intake.clone(),
        queues,
    }
}

fn spawn_workers(
    tasks: &mut JoinSet<()>,
    pipeline: &Pipeline,
    config: &ServeConfig,
    services: &Services,
    shutdown: &CancellationToken,
) {
    let poll_wait = Duration::from_secs(5);
    let workers: [(&'static str, usize, _, Arc<dyn QueueService>); 3] = [
        (
            "intake",
            config.workers.intake,
            pipeline.intake_queue.clone(),
            services.intake.clone(),
        ),
        (
            "sanitize",
            config.workers.sanitize,
            pipeline.sanitize_queue.clone(),
            services.review.clone(),
        ),
        (
            "review-tasks",
            config.workers.review_tasks,
            pipeline.review_tasks_queue.clone(),
            services.review.clone(),
        ),
    ];
    for (name, concurrency, queue, handler) in workers {
        let settings = WorkerSettings {
            name,
            concurrency,
            poll_wait,
        };
        tasks.spawn(run_worker(settings, queue, handler, shutdown.clone()));
    }
}

/// On a backend that queues the outcome events for the notifier (AWS), a worker over that
/// queue, as a notify Lambda would consume it.
fn spawn_notify_worker(
    tasks: &mut JoinSet<()>,
    queue: Arc<dyn vetted_core::ports::WorkQueue>,
    notifier: Arc<vetted_core::notify::EmailNotifier>,
    shutdown: &CancellationToken,
) {
    let settings = WorkerSettings {
        name: "notify",
        concurrency: 4,
        poll_wait: Duration::from_secs(5),
    };
    let service: Arc<dyn QueueService> = Arc::new(vetted_core::notify::NotifyQueue { notifier });
    tasks.spawn(run_worker(settings, queue, service, shutdown.clone()));
}

async fn spawn_backend(
    tasks: &mut JoinSet<()>,
    pipeline: &Pipeline,
    config: &ServeConfig,
    clock: Arc<dyn Clock>,
    owners: Option<Arc<vetted_core::notify::EmailNotifier>>,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    if let Backend::Embedded {
        engine,
        outbox,
        webhooks,
        ..
    } = &pipeline.backend
    {
        let (engine, stop) = (engine.clone(), shutdown.clone());
        tasks.spawn(async move { engine.run(stop.cancelled_owned()).await });
        let store: Arc<dyn Webhooks> = webhooks.clone();
        if config
            .webhook_delivery
            .allow_private_addresses_for_development
        {
            warn!(
                "webhook address guard is off ([webhook_delivery] \
                 allow_private_addresses_for_development): deliveries may reach this network"
            );
        }
        settings_file_endpoints(store.as_ref(), &config.webhooks, clock.now()).await?;
        let delivery = DeliverySettings {
            schedule: config.webhook_delivery.schedule(),
            allow_private: config
                .webhook_delivery
                .allow_private_addresses_for_development,
            ..DeliverySettings::default()
        };
        let worker = DeliveryWorker::new(store.clone(), clock.clone(), delivery)?;
        let notifier = notifier::Notifier {
            webhooks: store,
            clock,
            wake: worker.waker(),
            owners,
        };
        let stop = shutdown.clone();
        tasks.spawn(async move { worker.run(stop).await });
        let (outbox, stop) = (outbox.clone(), shutdown.clone());
        tasks.spawn(async move {
            outbox
                .run_dispatcher(&notifier, stop.cancelled_owned())
                .await
        });
    }
    Ok(())
}

/// The settings file's `[[webhooks]]` as endpoints: one is created for a URL no endpoint has,
/// and an endpoint with the URL gets the file's secret if it differs. Endpoints made with the
/// admin API are left alone; removing an entry from the file does not delete its endpoint.
async fn settings_file_endpoints(
    store: &dyn Webhooks,
    hooks: &[config::Webhook],
    now: vetted_core::Timestamp,
) -> anyhow::Result<()> {
    let existing = store.list().await.context("reading webhook endpoints")?;
    for hook in hooks {
        let secret = hook.signing_secret()?;
        match existing.iter().find(|e| e.url == hook.url) {
            Some(endpoint) if endpoint.secret == secret => {}
            Some(endpoint) => {
                let mut endpoint = endpoint.clone();
                endpoint.secret = secret;
                endpoint.previous_secret = None;
                endpoint.previous_until = None;
                endpoint.updated_at = now;
                store
                    .update(&endpoint)
                    .await
                    .context("updating a webhook endpoint")?;
                info!(endpoint = %endpoint.id, "settings file: webhook secret replaced");
            }
            None => {
                let endpoint = Endpoint {
                    id: EndpointId::generate(),
                    url: hook.url.clone(),
                    event_types: Vec::new(),
                    restaurant: None,
                    secret,
                    previous_secret: None,
                    previous_until: None,
                    enabled: true,
                    disabled_reason: None,
                    created_at: now,
                    updated_at: now,
                };
                store
                    .create(&endpoint)
                    .await
                    .context("creating a webhook endpoint")?;
                info!(endpoint = %endpoint.id, "settings file: webhook endpoint created");
            }
        }
    }
    Ok(())
}

/// Every 30 s: handle uploads whose notification never came, expire intents nobody used,
/// finish uploads intake claimed but did not finish, and deliver decisions the workflow has
/// not acknowledged. The first round runs at start-up.
async fn maintain(services: Services, shutdown: CancellationToken) {
    const EVERY: Duration = Duration::from_secs(30);
    let mut ticks = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        maintenance::run_pass(&services.intake, &services.review, EVERY).await;
    }
}

/// On the embedded backend, hourly (and at start-up): deletes quarantined objects older than
/// the retention, as the bucket's lifecycle rule does on AWS.
async fn expire_quarantine(objects: PathBuf, retention: Duration, shutdown: CancellationToken) {
    const EVERY: Duration = Duration::from_secs(3600);
    let mut ticks = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let dir = objects.clone();
        let removed = tokio::task::spawn_blocking(move || {
            vetted_embedded::fs_store::FsObjectStore::new(dir)?
                .remove_quarantined_older_than(retention)
        })
        .await;
        match removed {
            Ok(Ok(0)) => {}
            Ok(Ok(removed)) => info!(removed, "quarantined objects past their retention deleted"),
            Ok(Err(error)) => warn!(%error, "quarantine retention: next time"),
            Err(error) => warn!(%error, "quarantine retention task failed"),
        }
    }
}

/// On the embedded backend, hourly (and at start-up): aborts multipart uploads begun more than
/// a day ago, as the bucket's `AbortIncompleteMultipartUpload` rule does on AWS (its default,
/// `AbortMultipartDays`, is also one day).
async fn abort_stale_multipart_uploads(
    s3: Arc<vetted_s3_endpoint::S3Endpoint>,
    clock: Arc<dyn vetted_core::Clock>,
    shutdown: CancellationToken,
) {
    const EVERY: Duration = Duration::from_secs(3600);
    const AFTER: Duration = Duration::from_secs(86_400);
    let mut ticks = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let before = vetted_core::Timestamp::from_unix_millis(
            clock
                .now()
                .unix_millis()
                .saturating_sub(AFTER.as_millis() as i64),
        );
        match s3.abort_stale_uploads(before).await {
            Ok(0) => {}
            Ok(removed) => info!(removed, "stale multipart uploads aborted"),
            Err(error) => warn!(%error, "aborting stale multipart uploads: next time"),
        }
    }
}

async fn wait_for_stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(error) => {
                    warn!(%error, "cannot listen for SIGTERM; stop with Ctrl-C");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn print_banner(running: &Running) {
    let public_url = &running.public_url;
    let mut out = format!(
        "\nVetted is running ({} backend{}).\n\n  Owner page         {public_url}/\n  Moderator console  {public_url}/moderate\n  API                {public_url}/api/\n",
        running.backend.name(),
        match (running.backend, &running.endpoint_url) {
            (BackendChoice::Embedded, _) => format!(", data in {}", running.data.display()),
            (BackendChoice::Aws, Some(url)) => format!(" at {url}"),
            (BackendChoice::Aws, None) => String::new(),
        }
    );
    if let Some(endpoint) = &running.upload_endpoint {
        out.push_str(&format!("  Upload endpoint    {endpoint}\n"));
    }
    if let Some(mail) = &running.mail {
        out.push_str(&format!("  Owner emails       {mail}\n"));
    }
    if let Some(demo) = &running.demo {
        out.push_str(&format!(
            "\nDemo (tokens valid 24 h; the links sign you in):\n  as the owner      {}\n  as the moderator  {}\n\n  owner token      {}\n  moderator token  {}\n",
            demo.owner_link, demo.moderator_link, demo.owner_token, demo.moderator_token
        ));
    } else {
        out.push_str(&format!(
            "\nSign in with a token: vetted token --data {} --user ID --role owner|moderator\n",
            running.data.display()
        ));
    }
    out.push_str("\nStop with Ctrl-C.\n");
    println!("{out}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_example_in_the_help_is_a_valid_settings_file() {
        let start = SETTINGS_HELP.find("review_timeout_seconds").unwrap();
        let end = SETTINGS_HELP.find("Environment:").unwrap();
        let example: String = SETTINGS_HELP[start..end]
            .lines()
            .map(|line| format!("{}\n", line.trim_start()))
            .collect();
        let config: ServeConfig = toml::from_str(&example).unwrap();
        assert_eq!(config.review_timeout_seconds, 259_200);
        assert_eq!(config.quarantine_retention_days, 30);
        assert_eq!(config.workers.sanitize, 2);
        assert_eq!(config.webhooks.len(), 1);
        assert!(config.oidc.is_some(), "the [oidc] example is read");
    }

    #[tokio::test]
    async fn settings_file_hooks_become_endpoints_once_and_keep_the_files_secret() {
        use vetted_embedded::db::Db;
        use vetted_embedded::sqlite_webhooks::SqliteWebhooks;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteWebhooks::new(Db::open(dir.path().join("vetted.db")).await.unwrap());
        let now = vetted_core::Timestamp::from_unix_millis(1_800_000_000_000);
        let hook = |secret: &str| config::Webhook {
            url: "https://hooks.example/vetted".into(),
            secret: secret.into(),
        };
        let plain = "a plain secret of 24+ chars";
        settings_file_endpoints(&store, &[hook(plain)], now)
            .await
            .unwrap();
        // A restart with the same file changes nothing.
        settings_file_endpoints(&store, &[hook(plain)], now)
            .await
            .unwrap();
        let endpoints = store.list().await.unwrap();
        assert_eq!(endpoints.len(), 1);
        let endpoint = &endpoints[0];
        assert!(endpoint.enabled && endpoint.event_types.is_empty());
        // The plain string's bytes are the key: whsec_ + base64 of it.
        assert_eq!(
            endpoint.secret,
            vetted_core::webhooks::WebhookSecret::from_key(plain.as_bytes()).unwrap()
        );
        // A new secret in the file replaces the stored one, on the same endpoint.
        let whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        settings_file_endpoints(&store, &[hook(whsec)], now)
            .await
            .unwrap();
        let endpoints = store.list().await.unwrap();
        assert_eq!(endpoints.len(), 1);
        assert_eq!(
            (endpoints[0].id, endpoints[0].secret.expose()),
            (endpoint.id, whsec)
        );
    }

    #[derive(clap::Parser)]
    struct Command {
        #[command(flatten)]
        args: ServeArgs,
    }

    #[test]
    fn settings_made_in_code_are_the_command_lines_defaults() {
        use clap::Parser;
        let parsed = Command::try_parse_from(["serve", "--data", "some/dir"]).unwrap();
        assert_eq!(parsed.args.settings, ServeSettings::new("some/dir"));
        let demo = Command::try_parse_from(["serve", "--data", "d", "--demo"]).unwrap();
        assert_ne!(demo.args.settings, ServeSettings::new("d"));
    }
}
