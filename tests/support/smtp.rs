//! A real SMTP server for the email tests: `scripts/smtp_sink.py` (aiosmtpd) on a free
//! loopback port, writing each message it accepts to a directory, and reading them back.
//!
//! The Python comes from `$VETTED_TEST_VENV` (set by `scripts/test`), else the workspace's
//! `.venv`; without aiosmtpd the test fails and says how to install it. Dropping the sink
//! kills the server.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::workspace_root;

/// One message as the sink wrote it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope's recipients (`RCPT TO`), as the sink recorded them.
    pub envelope_to: String,
    /// The whole message, headers and MIME parts, as sent.
    pub raw: String,
}

impl Received {
    /// A header's value (the first one of that name), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next().unwrap_or_default();
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }
}

pub struct SmtpSink {
    pub port: u16,
    dir: PathBuf,
    _child: Child,
}

fn python() -> PathBuf {
    let venv = std::env::var_os("VETTED_TEST_VENV")
        .map_or_else(|| workspace_root().join(".venv"), PathBuf::from);
    venv.join("bin/python")
}

impl SmtpSink {
    /// Starts the sink, writing into `dir`; returns once it accepts connections.
    pub async fn start(dir: &Path) -> SmtpSink {
        let python = python();
        let script = workspace_root().join("scripts/smtp_sink.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {} {}: {e} (run scripts/venv, or set VETTED_TEST_VENV to a venv \
                     with aiosmtpd from tests/requirements.txt)",
                    python.display(),
                    script.display()
                )
            });
        let stdout = child.stdout.take().expect("the sink's stdout");
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .await
            .expect("reading the sink's port");
        let port = first.trim().parse().unwrap_or_else(|_| {
            panic!(
                "the SMTP sink did not start (is aiosmtpd installed in {}? see \
                 tests/requirements.txt); it said {first:?}",
                python.display()
            )
        });
        SmtpSink {
            port,
            dir: dir.to_owned(),
            _child: child,
        }
    }

    /// Every message received so far, in the order received.
    pub fn messages(&self) -> Vec<Received> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let (first, raw) = text.split_once("\r\n").unwrap_or_default();
                Received {
                    envelope_to: first
                        .strip_prefix("X-Envelope-To: ")
                        .unwrap_or_default()
                        .to_owned(),
                    raw: raw.to_owned(),
                }
            })
            .collect()
    }
}
