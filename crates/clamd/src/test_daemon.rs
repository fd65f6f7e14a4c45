//! A real clamd for tests: started with a configuration and a signature database the test
//! writes (one `.ndb` body signature for [`TEST_MARKER`]), so no download is needed.
//!
//! clamd loads a database of that one signature and listens in about 0.1 s on this kind of
//! machine (measured: `Loaded 1 signatures.`); it needs no `main.cvd`. It runs in the
//! foreground as a child of the test and is killed when the handle drops. clamd itself comes
//! from Debian's `clamav-daemon`, which `scripts/test` installs; the package's own service
//! is not used (there is no systemd here or in CI).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::{Child, Command};
use vetted_core::review::scan::ClamdAddress;

use crate::ClamdScanner;

/// The bytes the test signature matches, anywhere in a file.
pub const TEST_MARKER: &[u8] = b"VETTED-TEST-MALWARE-MARKER";
/// The name clamd reports for it: the `.ndb` name, with `.UNOFFICIAL` appended by clamd to
/// every signature from a database it does not know (measured with clamd 1.4.6).
pub const TEST_SIGNATURE: &str = "VettedTest.Marker.UNOFFICIAL";
/// The test daemon's `StreamMaxLength`: a longer stream is refused (`unsupported`).
pub const TEST_STREAM_MAX_BYTES: usize = 2 * 1024 * 1024;

/// A running clamd; killed on drop.
pub struct TestClamd {
    _child: Child,
    dir: tempfile::TempDir,
}

impl TestClamd {
    /// Starts clamd and waits until it answers PING. Panics, naming what to install, when
    /// there is no clamd: a scan test that silently skips would prove nothing.
    pub async fn start() -> TestClamd {
        Self::start_with_stream_max(TEST_STREAM_MAX_BYTES).await
    }

    /// [`TestClamd::start`] with another `StreamMaxLength` (the benchmark scans larger files).
    pub async fn start_with_stream_max(stream_max_bytes: usize) -> TestClamd {
        let binary = find_clamd().unwrap_or_else(|| {
            panic!(
                "clamd not found: install Debian's clamav-daemon (scripts/test does: apt-get install clamav-daemon)"
            )
        });
        let dir = tempfile::tempdir().expect("a temporary directory for clamd");
        let db = dir.path().join("db");
        std::fs::create_dir(&db).expect("clamd's database directory");
        let hex: String = TEST_MARKER.iter().map(|b| format!("{b:02x}")).collect();
        // name:target:offset:hex — target 0 (any file), offset * (anywhere).
        std::fs::write(
            db.join("vetted-test.ndb"),
            format!("VettedTest.Marker:0:*:{hex}\n"),
        )
        .expect("writing the test signature");
        let socket = dir.path().join("clamd.sock");
        let conf = dir.path().join("clamd.conf");
        std::fs::write(
            &conf,
            format!(
                "LocalSocket {socket}\nDatabaseDirectory {db}\nTemporaryDirectory {tmp}\n\
                 Foreground yes\nLogFile {log}\nStreamMaxLength {max}\n",
                socket = socket.display(),
                db = db.display(),
                tmp = dir.path().display(),
                log = dir.path().join("clamd.log").display(),
                max = stream_max_bytes,
            ),
        )
        .expect("writing clamd.conf");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&conf)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("starting clamd");
        let clamd = TestClamd { _child: child, dir };
        let scanner = clamd.scanner(Duration::from_secs(5));
        // A readiness wait, not a timed assertion: up to a minute on a loaded machine.
        for _ in 0..600 {
            if socket.exists() && scanner.ping().await.is_ok() {
                return clamd;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(clamd.dir.path().join("clamd.log")).unwrap_or_default();
        panic!("clamd did not answer PING within a minute; its log:\n{log}");
    }

    /// Where it listens.
    pub fn address(&self) -> ClamdAddress {
        ClamdAddress::Unix(self.socket())
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("clamd.sock")
    }

    /// A scanner for it.
    pub fn scanner(&self, timeout: Duration) -> ClamdScanner {
        ClamdScanner::new(self.address(), timeout)
    }
}

fn find_clamd() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir: PathBuf| dir.join("clamd"))
        .find(|candidate| is_file(candidate))
}

fn is_file(path: &Path) -> bool {
    path.metadata().map(|m| m.is_file()).unwrap_or(false)
}
