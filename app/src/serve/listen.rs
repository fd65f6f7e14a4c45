//! `vetted serve`'s HTTP listener: its own accept loop, so that a slow or idle client cannot
//! hold the server. `axum::serve` sets no timer, and so no timeout of any kind.
//!
//! - **Request heads** must arrive whole within `[http] header_timeout_seconds`; the same
//!   limit closes a kept-alive connection that waits idle for its next request (hyper's
//!   header timer starts as soon as the connection waits for a head).
//! - **Request bodies** that send nothing for `body_stall_timeout_seconds` fail: the handler
//!   reading it gets an error and answers, and the connection is closed.
//! - **Connections** open at once are capped at `max_connections`; the next one waits in the
//!   kernel's listen backlog until one closes, so a flood costs sockets, not tasks.
//!
//! Stopping stops accepting, asks every connection to finish (an idle one closes at once,
//! one in the middle of a request answers it first), and waits for them at most
//! [`SHUTDOWN_GRACE`].

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tracing::{debug, warn};
use vetted_api::accounts::ClientIp;

use super::config::HttpLimits;

/// How long stopping waits for connections still answering.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` under `limits` until `shutdown`, then lets the connections
/// finish (see the module's documentation).
pub async fn serve_http(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
) {
    let app = app.layer(RequestBodyTimeoutLayer::new(limits.body_stall_timeout()));
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = open.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let (stream, remote) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: wait a little rather than spin.
                    warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let service = app
            .clone()
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(remote));
                request.extensions_mut().insert(ClientIp(remote.ip()));
                request
            });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout())
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                debug!(%error, %remote, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        warn!(
            grace = ?SHUTDOWN_GRACE,
            "stopping: connections still open after the grace period were dropped"
        );
    }
}
