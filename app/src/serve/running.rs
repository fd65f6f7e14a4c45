//! [`serve`]: the whole pipeline started on a listener the caller bound, and [`Running`], the
//! handle that says where it listens, issues dev tokens it accepts, and stops it. `vetted
//! serve` uses them with a banner and the stop signals; tests use them in-process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use vetted_api::auth::{DevKey, Role};
use vetted_clamd::ClamdScanner;
use vetted_core::review::{ScanSettings, Scanning};
use vetted_core::settings::Env;
use vetted_core::{Clock, SystemClock};

#[cfg(feature = "aws")]
use super::aws;
use super::config::ServeConfig;
use super::pipeline::{Backend, Pipeline};
use super::{
    BackendChoice, ServeSettings, Services, api_state, demo, embedded, maintain, media, owner_mail,
    spawn_backend, spawn_workers, web,
};

/// How long [`Running::stop`] waits for the work in hand; what is left is redelivered on the
/// next start.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// Starts everything `vetted serve` runs on `listener`, and returns once it is serving: the
/// HTTP server, the workers, the backend's own tasks and the maintenance loop run as tasks on
/// the current tokio runtime. Cancelling `shutdown` (or [`Running::stop`]) stops taking work;
/// [`Running::finished`] then waits for the work in hand. Dropping the [`Running`] aborts the
/// tasks.
///
/// Prints nothing and installs no log subscriber: that is the caller's business.
pub async fn serve(
    listener: TcpListener,
    settings: ServeSettings,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let config = ServeConfig::load(settings.config.as_deref())?;
    let local = listener.local_addr()?;
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"))
        .trim_end_matches('/')
        .to_owned();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let pipeline = match settings.backend {
        BackendChoice::Embedded => {
            let largest = vetted_core::SlotKind::ALL
                .iter()
                .map(|kind| config.policies.for_kind(*kind).max_bytes)
                .max()
                .unwrap_or_default();
            embedded::build(&settings.data, &public_url, largest, clock.clone()).await?
        }
        BackendChoice::Aws => build_aws(&settings, config.mail.from.as_deref()).await?,
    };
    let scan = config
        .scan
        .settings(
            &Env::from_process(),
            settings.demo || settings.allow_unscanned,
        )
        .context("[scan] settings")?;
    let scanning = scanning(&scan, settings.allow_unscanned);
    let services = Services::new(&pipeline, &config, scanning, clock.clone(), &public_url);
    // A child, so that dropping the handle stops this server and nothing else.
    let shutdown = shutdown.child_token();
    let mailer = owner_mail::mailer(&pipeline, &config.mail, &settings.data)?;
    let api = api_state(
        &pipeline,
        &config,
        &settings,
        &services,
        mailer.as_ref().map(|(mailer, _)| mailer.clone()),
        &shutdown,
    )?;
    let media = media::MediaState {
        uploads: pipeline.uploads.clone(),
        restaurants: pipeline.restaurants.clone(),
        objects: pipeline.objects.clone(),
    };

    let mut app = vetted_api::router(api)
        .merge(web::routes())
        .merge(media::routes(media));
    let mut upload_endpoint = None;
    if let Backend::Embedded { s3, .. } = &pipeline.backend {
        app = app.merge(s3.router());
        upload_endpoint = Some(format!("{public_url}/s3/{}/", s3.config().bucket));
    }
    if let Some(token) = &config.metrics.bearer_token {
        app = app.merge(super::metrics::routes(metrics_state(
            &pipeline,
            clock.clone(),
            token,
        )));
    }
    let app = vetted_api::request_id::layer(app);

    let mut tasks = JoinSet::new();
    tasks.spawn(super::listen::serve_http(
        listener,
        app,
        config.http,
        shutdown.clone(),
    ));
    spawn_workers(&mut tasks, &pipeline, &config, &services, &shutdown);
    let owners = owner_mail::build(
        &pipeline,
        mailer.as_ref(),
        &config.mail,
        &public_url,
        clock.clone(),
    )?;
    let mail = mailer.as_ref().map(|(_, place)| place.clone());
    if let (Some(queue), Some((notifier, _))) = (&pipeline.notify_queue, &owners) {
        super::spawn_notify_worker(&mut tasks, queue.clone(), notifier.clone(), &shutdown);
    }
    spawn_backend(
        &mut tasks,
        &pipeline,
        &config,
        clock.clone(),
        owners.map(|(notifier, _)| notifier),
        &shutdown,
    )
    .await?;
    tasks.spawn(maintain(services.clone(), shutdown.clone()));
    if let Backend::Embedded { s3, .. } = &pipeline.backend {
        let days = config.quarantine_retention_days.max(1);
        tasks.spawn(super::expire_quarantine(
            settings.data.join("objects"),
            Duration::from_secs(days.saturating_mul(86_400)),
            shutdown.clone(),
        ));
        tasks.spawn(super::abort_stale_multipart_uploads(
            s3.clone(),
            clock.clone(),
            shutdown.clone(),
        ));
    }

    let demo = if settings.demo {
        demo::seed_restaurants(pipeline.restaurants.as_ref(), clock.now()).await?;
        if let Some(notifications) = &pipeline.notifications {
            demo::opt_in(notifications.as_ref(), clock.now()).await?;
        }
        let access = DemoAccess::issue(&pipeline.dev_key, &public_url)?;
        let (base, owner) = (format!("http://{local}"), access.owner_token.clone());
        tasks.spawn(async move { demo::seed(&base, &owner).await });
        Some(access)
    } else {
        None
    };

    Ok(Running {
        addr: local,
        public_url,
        data: settings.data,
        backend: settings.backend,
        endpoint_url: match &pipeline.backend {
            Backend::Aws { endpoint_url, .. } => endpoint_url.clone(),
            Backend::Embedded { .. } => None,
        },
        upload_endpoint,
        mail,
        dev_key: pipeline.dev_key.clone(),
        demo,
        shutdown,
        tasks,
    })
}

#[cfg(feature = "aws")]
async fn build_aws(settings: &ServeSettings, mail_from: Option<&str>) -> anyhow::Result<Pipeline> {
    aws::build(aws::AwsTarget {
        endpoint_url: settings.endpoint_url.as_deref(),
        resources_file: settings.resources.as_deref(),
        prefix: &settings.prefix,
        data: &settings.data,
        mail_from,
    })
    .await
}

#[cfg(not(feature = "aws"))]
async fn build_aws(_: &ServeSettings, _: Option<&str>) -> anyhow::Result<Pipeline> {
    anyhow::bail!(crate::AWS_NOT_BUILT)
}

/// A pipeline [`serve`] started.
pub struct Running {
    /// Where it listens (the listener's address: the real port when it was bound to port 0).
    pub addr: SocketAddr,
    /// The URL browsers reach it at, without a trailing slash: `--public-url`, or
    /// `http://{addr}`.
    pub public_url: String,
    /// The data directory: the embedded backend's store, and the dev key on both backends.
    pub data: PathBuf,
    pub backend: BackendChoice,
    /// With the AWS backend on an emulator: the emulator's URL.
    pub endpoint_url: Option<String>,
    /// With the embedded backend: the S3-compatible upload endpoint's bucket URL.
    pub upload_endpoint: Option<String>,
    /// Where owner emails go, in words (an SMTP server, or a directory of `.eml` files);
    /// `None` where none are sent.
    pub mail: Option<String>,
    /// Signs the dev tokens this server accepts (as `vetted token --data` does).
    pub dev_key: DevKey,
    /// With `--demo`: ready tokens and sign-in links for the demo owner and moderator.
    pub demo: Option<DemoAccess>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

/// The demo's users, signed in by a link.
#[derive(Debug, Clone)]
pub struct DemoAccess {
    pub owner_token: String,
    pub moderator_token: String,
    /// The owner page, signed in as the demo owner.
    pub owner_link: String,
    /// The moderator console, signed in as the demo moderator.
    pub moderator_link: String,
}

impl DemoAccess {
    fn issue(key: &DevKey, public_url: &str) -> anyhow::Result<Self> {
        let now = SystemClock.now();
        let owner_token = key.issue_with_email(
            demo::DEMO_OWNER,
            &[Role::Owner],
            Some(demo::DEMO_OWNER_EMAIL),
            demo::DEMO_TOKEN_TTL,
            now,
        )?;
        // The demo moderator is an admin too, so the demo can create restaurants.
        let moderator_token = key.issue_roles(
            demo::DEMO_MODERATOR,
            &[Role::Moderator, Role::Admin],
            demo::DEMO_TOKEN_TTL,
            now,
        )?;
        Ok(Self {
            owner_link: format!("{public_url}/#token={owner_token}"),
            moderator_link: format!("{public_url}/moderate#token={moderator_token}"),
            owner_token,
            moderator_token,
        })
    }
}

impl Running {
    /// A dev token for `user` that this server accepts, valid for `ttl`.
    pub fn token(&self, user: &str, role: Role, ttl: Duration) -> anyhow::Result<String> {
        Ok(self.dev_key.issue(user, role, ttl, SystemClock.now())?)
    }

    /// Stops taking work and waits for the work in hand, as [`Running::finished`] does.
    pub async fn stop(mut self) -> bool {
        self.shutdown.cancel();
        self.drain().await
    }

    /// Waits until the `shutdown` token given to [`serve`] is cancelled, then for the work in
    /// hand, at most [`DRAIN_LIMIT`]. False when some did not finish in time: it is redelivered
    /// on the next start.
    pub async fn finished(mut self) -> bool {
        self.shutdown.cancelled().await;
        self.drain().await
    }

    async fn drain(&mut self) -> bool {
        let mut tasks = std::mem::take(&mut self.tasks);
        let drained = tokio::time::timeout(DRAIN_LIMIT, async {
            while tasks.join_next().await.is_some() {}
        })
        .await
        .is_ok();
        if !drained {
            warn!(
                "some work did not finish within {} s; it will be redelivered on the next start",
                DRAIN_LIMIT.as_secs()
            );
        }
        drained
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // The tasks are aborted with the JoinSet; this stops the HTTP server's accept loop
        // first, should any task outlive it.
        self.shutdown.cancel();
    }
}

/// What `/metrics` reads at each scrape: the records and every work queue this server
/// consumes.
fn metrics_state(
    pipeline: &super::pipeline::Pipeline,
    clock: Arc<dyn Clock>,
    token: &str,
) -> super::metrics::MetricsState {
    let mut queues: Vec<(&'static str, Arc<dyn vetted_core::ports::WorkQueue>)> = vec![
        ("intake", pipeline.intake_queue.clone()),
        ("sanitize", pipeline.sanitize_queue.clone()),
        ("review-tasks", pipeline.review_tasks_queue.clone()),
    ];
    if let Some(queue) = &pipeline.notify_queue {
        queues.push(("notify", queue.clone()));
    }
    super::metrics::MetricsState {
        uploads: pipeline.uploads.clone(),
        queues,
        clock,
        token_digest: super::metrics::MetricsState::token_digest(token),
    }
}

/// The review's scanner: clamd when an address is configured, else none, with whether an
/// unscanned upload may proceed (`--allow-unscanned` always lets it).
fn scanning(settings: &ScanSettings, allow_unscanned: bool) -> Scanning {
    match &settings.clamd {
        Some(address) => {
            info!(clamd = %address, "scanning uploads with clamd");
            Scanning::with(Arc::new(ClamdScanner::new(
                address.clone(),
                settings.timeout,
            )))
        }
        None => {
            let allow = settings.allow_skipped || allow_unscanned;
            if allow {
                warn!("no malware scanner is configured: uploads proceed unscanned (skipped)");
            } else {
                warn!("no malware scanner is configured: every upload will fail as scan_skipped");
            }
            Scanning::without_scanner(allow)
        }
    }
}
