//! `GET /metrics`: what the core recorded (status moves, gate and sanitize latency, webhook
//! deliveries; see `vetted_core::metrics`) in the Prometheus text format, plus gauges of
//! state read from the ports at scrape time: records by status, each work queue's depth and
//! dead letters, and the age of the oldest review.
//!
//! The route needs `Authorization: Bearer` with `[metrics] bearer_token`; without a token it
//! is not mounted. The recorder is the process's global one, installed once: several servers
//! in one process (tests) share its counters.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};
use tracing::warn;
use vetted_core::Clock;
use vetted_core::Status;
use vetted_core::metrics::{
    LATENCY_BUCKETS, QUEUE_DEAD_LETTERS, QUEUE_MESSAGES, UPLOADS_BY_STATUS,
    record_oldest_review_age, status_label,
};
use vetted_core::ports::{PageRequest, Uploads, WorkQueue};

/// Statuses whose records are counted at each scrape: those an upload passes through or an
/// operator must act on. Final statuses only grow; their moves are counted by the
/// transitions counter instead of by reading every record.
const COUNTED: [Status; 6] = [
    Status::AwaitingUpload,
    Status::Received,
    Status::InReview,
    Status::Decided,
    Status::Approved,
    Status::Failed,
];

/// At most this many pages of 100 records are read per status and scrape; a count that
/// reaches it is reported as the cap.
const MAX_PAGES: usize = 100;

/// The process's Prometheus recorder, installed on first use. `None` if another recorder
/// was installed first (then `/metrics` answers 503).
pub fn handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(PrometheusBuilder::install_recorder);
            match installed {
                Ok(handle) => {
                    vetted_core::metrics::describe();
                    Some(handle)
                }
                Err(error) => {
                    warn!(%error, "metrics recorder not installed; /metrics will answer 503");
                    None
                }
            }
        })
        .clone()
}

/// What a scrape reads besides the recorder.
#[derive(Clone)]
pub struct MetricsState {
    pub uploads: Arc<dyn Uploads>,
    pub queues: Vec<(&'static str, Arc<dyn WorkQueue>)>,
    pub clock: Arc<dyn Clock>,
    /// SHA-256 of the bearer token: compared digest to digest, so the time a wrong token
    /// takes says nothing about the right one.
    pub token_digest: [u8; 32],
}

impl MetricsState {
    pub fn token_digest(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }
}

pub fn routes(state: MetricsState) -> Router {
    // Installed now, so that what happens before the first scrape is counted.
    let _ = handle();
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

async fn scrape(State(state): State<MetricsState>, headers: HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let allowed = presented
        .is_some_and(|token| MetricsState::token_digest(token.trim()) == state.token_digest);
    if !allowed {
        return (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"metrics\""),
            )],
            "a bearer token is needed\n",
        )
            .into_response();
    }
    let Some(handle) = handle() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no metrics recorder\n").into_response();
    };
    if let Err(error) = read_state(&state).await {
        // The counters are still worth answering; the gauges keep their last values.
        warn!(error = %error, "metrics: reading the state gauges failed");
    }
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        handle.render(),
    )
        .into_response()
}

async fn read_state(state: &MetricsState) -> anyhow::Result<()> {
    for status in COUNTED {
        let count = count_in(state.uploads.as_ref(), status).await?;
        metrics::gauge!(UPLOADS_BY_STATUS, "status" => status_label(status)).set(count as f64);
    }
    for (name, queue) in &state.queues {
        let stats = queue.stats().await?;
        metrics::gauge!(QUEUE_MESSAGES, "queue" => *name, "state" => "visible")
            .set(stats.visible as f64);
        metrics::gauge!(QUEUE_MESSAGES, "queue" => *name, "state" => "in_flight")
            .set(stats.in_flight as f64);
        metrics::gauge!(QUEUE_DEAD_LETTERS, "queue" => *name).set(stats.dead as f64);
    }
    record_oldest_review_age(state.uploads.as_ref(), state.clock.now()).await?;
    Ok(())
}

async fn count_in(uploads: &dyn Uploads, status: Status) -> anyhow::Result<usize> {
    let mut page = PageRequest::first(100);
    let mut count = 0;
    for _ in 0..MAX_PAGES {
        let found = uploads.list_by_status(status, &page).await?;
        count += found.items.len();
        match found.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    Ok(count)
}
