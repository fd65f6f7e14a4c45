//! Runs the real `vetted` binary: `vetted serve` as a child process that the test owns, and
//! `vetted token` for the tokens that server accepts. Only the crash test needs a process (it
//! SIGKILLs it); the other end-to-end tests start the server in-process ([`super::server`]).
//!
//! The binary is the one `cargo build -p vetted` leaves in the target directory. Tests do not
//! build it themselves (a cargo build inside a cargo test fights over the build lock), so a
//! missing binary, or one older than the sources it is built from, fails the test with the
//! command to run; `scripts/test` runs that command before the tests.
//!
//! A spawned server is killed with SIGKILL when its [`Server`] is dropped, which includes a
//! test that panics; [`Server::kill`] does the same on purpose, mid-load, for crash tests.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::workspace_root;

/// How long `vetted serve` may take to print its banner: opening the data directory (replaying
/// a WAL after a kill), or bootstrapping every resource on the AWS emulator.
const START_LIMIT: Duration = Duration::from_secs(120);

/// `target/debug/vetted` (or under `CARGO_TARGET_DIR`), checked to be newer than every source
/// file it was built from. Panics with the command to run otherwise. Checked once per test
/// process, so that a test restarting the server keeps the binary it started with.
pub fn vetted_binary() -> PathBuf {
    static CHECKED: OnceLock<PathBuf> = OnceLock::new();
    CHECKED.get_or_init(locate_binary).clone()
}

fn locate_binary() -> PathBuf {
    let root = workspace_root();
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => root.join(dir),
        None => root.join("target"),
    };
    let binary = target.join("debug").join("vetted");
    let built = match std::fs::metadata(&binary).and_then(|m| m.modified()) {
        Ok(built) => built,
        Err(_) => panic!(
            "{} does not exist: run `cargo build -p vetted` first (scripts/test does)",
            binary.display()
        ),
    };
    if let Some(source) = changed_since(&binary.with_extension("d"), built) {
        panic!(
            "{} is older than {}: run `cargo build -p vetted` first (scripts/test does), so \
             that the tests run the code you have",
            binary.display(),
            source
        );
    }
    binary
}

/// A source file listed in cargo's dep-info file for the binary (`vetted.d`: exactly the
/// files rustc read to build it, in every crate) that changed after `built`; the dep-info
/// file itself when it cannot be read.
fn changed_since(dep_info: &Path, built: SystemTime) -> Option<String> {
    let Ok(text) = std::fs::read_to_string(dep_info) else {
        return Some(format!("its dep-info {} (unreadable)", dep_info.display()));
    };
    let (_, sources) = text.lines().next()?.split_once(": ")?;
    // Make escaped spaces in paths survive the split on spaces.
    let sources = sources.replace("\\ ", "\u{0}");
    sources
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace('\u{0}', " "))
        .find(|source| {
            std::fs::metadata(source)
                .and_then(|m| m.modified())
                // A source that is gone has changed too.
                .map_or(true, |modified| modified > built)
        })
}

/// A running `vetted serve`.
pub struct Server {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base: String,
    /// The `--data` directory.
    pub data: PathBuf,
    /// Where the server's stderr (its log) goes.
    pub log: PathBuf,
    child: Child,
}

impl Server {
    /// Starts `vetted serve --addr 127.0.0.1:0 --data DATA ARGS..` and waits for its banner.
    /// The log goes to `DATA.log` beside the data directory (appended, so that every run on
    /// the same directory is in one file). Panics, with the log, if it does not start.
    pub async fn spawn(data: &Path, args: &[&str]) -> Server {
        Self::spawn_with_env(data, args, &[]).await
    }

    /// [`Server::spawn`] with extra environment variables for the child.
    pub async fn spawn_with_env(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let binary = vetted_binary();
        let log = data.with_extension("log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap_or_else(|e| panic!("opening {}: {e}", log.display()));
        let mut command = Command::new(&binary);
        command
            .arg("serve")
            .arg("--addr")
            .arg("127.0.0.1:0")
            .arg("--data")
            .arg(data)
            .args(args)
            .env("VETTED_LOG", "info")
            .env_remove("VETTED_CONFIG")
            .env_remove("VETTED_ADDR")
            .env_remove("VETTED_DATA")
            .env_remove("VETTED_PUBLIC_URL")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("VETTED_CLAMD")
            // These tests are about other steps than the malware scan.
            .env("VETTED_SCAN_ALLOW_SKIPPED", "true")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let banner = tokio::time::timeout(START_LIMIT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.trim_start().strip_prefix("API") {
                    return Some(url.trim().to_owned());
                }
            }
            None
        })
        .await;
        let api = match banner {
            Ok(Some(api)) => api,
            Ok(None) => panic!(
                "vetted serve {args:?} exited before printing its banner ({:?}); its log:\n{}",
                child.try_wait(),
                tail(&log)
            ),
            Err(_) => panic!(
                "vetted serve {args:?} printed no banner within {START_LIMIT:?}; its log:\n{}",
                tail(&log)
            ),
        };
        // Keep reading stdout, so that the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let base = api
            .strip_suffix("/api/")
            .unwrap_or_else(|| panic!("the banner's API line is {api:?}, not URL/api/"))
            .to_owned();
        Server {
            base,
            data: data.to_path_buf(),
            log,
            child,
        }
    }

    /// SIGKILL, at once, and reap the process: nothing of it runs after this returns.
    pub async fn kill(&mut self) {
        // Already gone is fine: the point is that it is not running.
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// The process id, for the test's report.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Whether the process is still running; `Err` with its exit status and log if not.
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "vetted serve exited ({status}); its log:\n{}",
                tail(&self.log)
            )),
            Err(e) => Err(format!("cannot query vetted serve: {e}")),
        }
    }

    /// The end of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }
}

/// The last 60 lines of a log file.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// A dev token from `vetted token`, which a server on the same data directory accepts.
pub async fn token(data: &Path, user: &str, role: &str) -> String {
    let output = Command::new(vetted_binary())
        .args([
            "token", "--user", user, "--role", role, "--ttl", "2h", "--data",
        ])
        .arg(data)
        .env("VETTED_LOG", "warn")
        .output()
        .await
        .expect("running vetted token");
    assert!(
        output.status.success(),
        "vetted token --user {user} --role {role} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("the token is text")
        .trim()
        .to_owned()
}
