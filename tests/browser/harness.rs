//! What the browser tests stand on: the real `vetted` binary serving on a free port with its
//! own data directory, Debian's chromedriver on another, headless Chromium sessions driven
//! through it, and screenshots saved under `target/browser-artifacts/`.
//!
//! The binary is the one `cargo build -p vetted` leaves (see `support::server`; a test in
//! another crate cannot name a binary target); `VETTED_BIN` points at another build instead. Chromium and chromedriver are
//! `/usr/bin/chromium` and `/usr/bin/chromedriver` (`VETTED_CHROMIUM`, `VETTED_CHROMEDRIVER`
//! override), which `scripts/test` installs; without them the tests fail, never skip.
//!
//! Every wait has a generous deadline only so that a broken page fails instead of hanging; no
//! test asserts how fast anything is.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

pub use crate::page::Page;

/// How long any one step may take before the test gives up on it.
pub const STEP_DEADLINE: Duration = Duration::from_secs(90);

/// The `vetted` executable: `VETTED_BIN`, or the up-to-date `target/debug/vetted` that
/// `cargo build -p vetted` (run by `scripts/test`) leaves.
pub fn vetted_binary() -> PathBuf {
    std::env::var_os("VETTED_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(crate::support::server::vetted_binary)
}

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

/// `vetted serve` on 127.0.0.1 with a fresh data directory; killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub data: TempDir,
    banner: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// `vetted serve --addr 127.0.0.1:0` (with `--demo` if asked).
    pub fn start(artifacts: &Path, demo: bool) -> Self {
        let demo: &[&str] = if demo { &["--demo"] } else { &[] };
        Self::start_with(artifacts, "127.0.0.1:0", demo)
    }

    /// `vetted serve --addr ADDR` with more arguments; `base` is then the URL the banner
    /// prints, which is `--public-url` when one is given.
    pub fn start_with(artifacts: &Path, addr: &str, args: &[&str]) -> Self {
        let data = tempfile::tempdir().expect("a temporary data directory");
        let log = std::fs::File::create(artifacts.join("server.log")).expect("server log file");
        let mut command = Command::new(vetted_binary());
        command
            .args(["serve", "--addr", addr, "--data"])
            .arg(data.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = command.spawn().expect("starting vetted serve");
        let stdout = child.stdout.take().expect("vetted serve's stdout");
        let banner = Arc::new(Mutex::new(Vec::new()));
        let (base_tx, base_rx) = mpsc::channel();
        let lines = banner.clone();
        // Keeps reading to the end so that the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.trim().strip_prefix("Owner page") {
                    let _ = base_tx.send(url.trim().trim_end_matches('/').to_owned());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let base = base_rx
            .recv_timeout(STEP_DEADLINE)
            .expect("vetted serve printed no banner (see server.log in the artefacts)");
        Self {
            child,
            base,
            data,
            banner,
        }
    }

    /// A dev token from `vetted token`, as a person would get one.
    pub fn token(&self, user: &str, role: &str) -> String {
        let output = Command::new(vetted_binary())
            .args(["token", "--user", user, "--role", role, "--data"])
            .arg(self.data.path())
            .output()
            .expect("running vetted token");
        assert!(
            output.status.success(),
            "vetted token failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    /// The sign-in link the `--demo` banner prints after `label` ("as the owner").
    pub fn demo_link(&self, label: &str) -> String {
        let deadline = Instant::now() + STEP_DEADLINE;
        loop {
            let found = self.banner.lock().unwrap().iter().find_map(|line| {
                line.trim()
                    .strip_prefix(label)
                    .map(|rest| rest.trim().to_owned())
            });
            if let Some(link) = found {
                return link;
            }
            assert!(
                Instant::now() < deadline,
                "no demo link {label:?} in the banner"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
