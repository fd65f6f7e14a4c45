//! What the browser tests stand on: `vetted serve` started in-process on a free port with its
//! own data directory (and the restaurants a test needs, made through the admin API), Debian's
//! chromedriver on another, headless Chromium sessions driven through it, and screenshots saved
//! under `target/browser-artifacts/`.
//!
//! Chromium and chromedriver are `/usr/bin/chromium` and `/usr/bin/chromedriver`
//! (`VETTED_CHROMIUM`, `VETTED_CHROMEDRIVER` override), which `scripts/test` installs; without
//! them the tests fail, never skip. The server's log goes to the test's captured output.
//!
//! Every wait has a generous deadline only so that a broken page fails instead of hanging; no
//! test asserts how fast anything is.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use vetted_app::serve::{Role, Running};
use vetted_core::{Clock, SystemClock};

pub use crate::page::Page;
use crate::support::server::{ServeSettings, init_tracing};

/// How long any one step may take before the test gives up on it.
pub const STEP_DEADLINE: Duration = Duration::from_secs(90);

/// How long the tokens of [`Server::token`] last: longer than any test.
const TOKEN_TTL: Duration = Duration::from_secs(2 * 3600);

/// Where this test binary's screenshots and logs go: `target/browser-artifacts/{name}/`,
/// emptied first so that a folder shows one run.
pub fn artifacts_dir(name: &str) -> PathBuf {
    // The test executable is target/{profile}/deps/browser-HASH.
    let exe = std::env::current_exe().expect("the test executable's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test executable sits in target/PROFILE/deps")
        .to_path_buf();
    let dir = target.join("browser-artifacts").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating the artefacts directory");
    dir
}

/// `vetted serve` on 127.0.0.1 with a fresh data directory; stopped when dropped. It is started
/// here rather than through `support::server` because the tests need its dev key to sign an
/// admin's token, and only the [`Running`] handle holds it.
pub struct Server {
    running: Running,
    /// The URL the pages are at: `http://127.0.0.1:PORT`, or the `public_url` given.
    pub base: String,
    /// Where it listens.
    pub addr: SocketAddr,
    _data: TempDir,
}

impl Server {
    /// The embedded backend with a fresh data directory (and `--demo` if asked).
    pub async fn start(demo: bool) -> Self {
        Self::start_with(|settings| ServeSettings { demo, ..settings }).await
    }

    /// Like [`Server::start`], with settings changed by `adjust` (a `public_url`, say).
    pub async fn start_with(adjust: impl FnOnce(ServeSettings) -> ServeSettings) -> Self {
        init_tracing();
        let data = tempfile::tempdir().expect("a temporary data directory");
        let settings = adjust(ServeSettings::unscanned(data.path()));
        let described = format!("{settings:?}");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a free loopback port");
        let running = vetted_app::serve::serve(listener, settings, CancellationToken::new())
            .await
            .unwrap_or_else(|e| panic!("vetted serve did not start ({described}): {e:#}"));
        Self {
            base: running.public_url.clone(),
            addr: running.addr,
            running,
            _data: data,
        }
    }

    /// A dev token, as `vetted token` would issue it; `role` is "owner" or "moderator".
    pub fn token(&self, user: &str, role: &str) -> String {
        let role = match role {
            "owner" => Role::Owner,
            "moderator" => Role::Moderator,
            other => panic!("no role {other:?}"),
        };
        self.running
            .token(user, role, TOKEN_TTL)
            .unwrap_or_else(|e| panic!("a token for {user}: {e:#}"))
    }

    /// A dev token that also carries `email` (verified), as a Cognito ID token does.
    pub fn token_with_email(&self, user: &str, role: &str, email: &str) -> String {
        let role = match role {
            "owner" => Role::Owner,
            "moderator" => Role::Moderator,
            other => panic!("no role {other:?}"),
        };
        self.running
            .dev_key
            .issue_with_email(user, &[role], Some(email), TOKEN_TTL, SystemClock.now())
            .unwrap_or_else(|e| panic!("a token for {user}: {e:#}"))
    }

    /// Creates restaurant `id`, called `name`, with `owners` as its owners, as an admin would
    /// (`POST /api/restaurants`): a server without `--demo` has none, and an owner can upload
    /// only to a restaurant they are a member of.
    pub async fn create_restaurant(&self, id: &str, name: &str, owners: &[&str]) {
        let admin = self
            .running
            .dev_key
            .issue_roles(
                "browser-test-admin",
                &[Role::Moderator, Role::Admin],
                TOKEN_TTL,
                SystemClock.now(),
            )
            .expect("an admin's token");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let response = reqwest::Client::new()
            .post(format!("{}/api/restaurants", self.base))
            .bearer_auth(admin)
            .json(&json!({"id": id, "name": name, "owners": owners}))
            .send()
            .await
            .expect("POST /api/restaurants");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status.as_u16(), 201, "creating restaurant {id}: {body}");
    }

    /// The sign-in links `--demo` prints: the owner's page, and the moderator's console.
    pub fn demo_links(&self) -> (String, String) {
        let demo = self
            .running
            .demo
            .as_ref()
            .expect("the server was started without demo");
        (demo.owner_link.clone(), demo.moderator_link.clone())
    }
}

/// chromedriver on a free loopback port; killed when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
    chromium: PathBuf,
    profiles: TempDir,
}

impl Driver {
    pub fn start(artifacts: &Path) -> Self {
        let chromium = tool("VETTED_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = tool("VETTED_CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = free_port();
        let log = std::fs::File::create(artifacts.join("chromedriver.log")).unwrap();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting chromedriver");
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + STEP_DEADLINE;
        while TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver never listened on {address}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            url: format!("http://{address}"),
            chromium,
            profiles: tempfile::tempdir().unwrap(),
        }
    }

    /// A new headless Chromium (its own profile, so its own sessionStorage), 1280×800.
    pub async fn open(&self, name: &str, artifacts: &Path) -> Page {
        // rustls needs its provider chosen before fantoccini's connector builds a TLS config.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let profile = self.profiles.path().join(name);
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,800",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": self.chromium, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = fantoccini::ClientBuilder::rustls()
            .expect("a rustls connector for chromedriver")
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a Chromium session from chromedriver");
        let page = Page::new(client, name, artifacts);
        page.set_viewport(1280, 800).await;
        page
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool(variable: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing. The browser tests need Debian's chromium and chromium-driver: run \
         ./scripts/test, which installs them (or apt-get install chromium chromium-driver), \
         or point {variable} at another build.",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    listener.local_addr().unwrap().port()
}
