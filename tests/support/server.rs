//! `vetted serve` in the test's own process: [`vetted_app::serve::serve`] on a fresh listener
//! on 127.0.0.1 port 0, with the test's data directory, and the dev tokens it accepts.
//!
//! The server runs on the test's tokio runtime and logs through the test's writer (shown when
//! a test fails; `VETTED_LOG` filters it). Dropping the [`Server`] stops it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
pub use vetted_app::serve::ServeSettings;
use vetted_app::serve::{DemoAccess, Role, Running};

/// How long the tokens of [`Server::token`] last, as `vetted token --ttl 2h` did.
const TOKEN_TTL: Duration = Duration::from_secs(2 * 3600);

/// A running in-process `vetted serve`.
pub struct Server {
    /// `http://127.0.0.1:PORT` (or the `public_url` it was given), without a trailing slash.
    pub base: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The data directory.
    pub data: PathBuf,
    /// Where owner emails go, as the banner says it.
    pub mail: Option<String>,
    running: Running,
}

impl Server {
    /// The embedded backend on `data`, with the command line's defaults.
    pub async fn embedded(data: &Path) -> Server {
        Self::start(ServeSettings::unscanned(data)).await
    }

    /// Starts the server on a free loopback port; panics if it does not start.
    pub async fn start(settings: ServeSettings) -> Server {
        init_tracing();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a free loopback port");
        let described = format!("{settings:?}");
        let running = vetted_app::serve::serve(listener, settings, CancellationToken::new())
            .await
            .unwrap_or_else(|e| panic!("vetted serve did not start ({described}): {e:#}"));
        Server {
            base: running.public_url.clone(),
            addr: running.addr,
            data: running.data.clone(),
            mail: running.mail.clone(),
            running,
        }
    }

    /// A dev token this server accepts, valid two hours; `role` is "owner" or "moderator".
    pub fn token(&self, user: &str, role: &str) -> String {
        let role = match role {
            "owner" => Role::Owner,
            "moderator" => Role::Moderator,
            "admin" => Role::Admin,
            other => panic!("no role {other:?}"),
        };
        self.running
            .token(user, role, TOKEN_TTL)
            .unwrap_or_else(|e| panic!("a token for {user}: {e:#}"))
    }

    /// An owner token that also carries `email` (verified), as an ID token does.
    pub fn owner_with_email(&self, user: &str, email: &str) -> String {
        self.with_email(user, Role::Owner, email)
    }

    /// A moderator token that also carries `email` (verified), as an ID token does.
    pub fn moderator_with_email(&self, user: &str, email: &str) -> String {
        self.with_email(user, Role::Moderator, email)
    }

    fn with_email(&self, user: &str, role: Role, email: &str) -> String {
        self.running
            .dev_key
            .issue_with_email(
                user,
                &[role],
                Some(email),
                TOKEN_TTL,
                vetted_core::Clock::now(&vetted_core::SystemClock),
            )
            .unwrap_or_else(|e| panic!("a token for {user}: {e:#}"))
    }

    /// Creates restaurant `id` with `owners` through the admin API (or finds it there), so
    /// that they may upload to it; panics on any other answer.
    pub async fn restaurant(&self, id: &str, owners: &[&str]) {
        let admin = self
            .running
            .token("test-admin", Role::Admin, TOKEN_TTL)
            .expect("an admin token");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let response = reqwest::Client::new()
            .post(format!("{}/api/restaurants", self.base))
            .bearer_auth(admin)
            .json(&serde_json::json!({"id": id, "name": id, "owners": owners}))
            .send()
            .await
            .expect("POST /api/restaurants");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        assert!(
            matches!(status, 201 | 409),
            "creating {id}: {status} {body}"
        );
    }

    /// POSTs `body` to `path` as an admin; panics unless it answers 2xx, and returns its body.
    pub async fn admin_post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let admin = self
            .running
            .token("test-admin", Role::Admin, TOKEN_TTL)
            .expect("an admin token");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .bearer_auth(admin)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST {path}: {e}: {text}"))
    }

    /// The demo's tokens and sign-in links; panics unless it was started with `demo`.
    pub fn demo(&self) -> &DemoAccess {
        self.running
            .demo
            .as_ref()
            .expect("the server was started without demo")
    }

    /// Stops taking work and waits for the work in hand.
    pub async fn stop(self) {
        self.running.stop().await;
    }
}

/// Logs to the test's captured output, once per test process; `VETTED_LOG` filters them.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VETTED_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Another test in this process may have installed it already.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
