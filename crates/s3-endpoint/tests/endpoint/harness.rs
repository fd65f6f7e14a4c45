//! Test harness for the S3 endpoint: a real server on a loopback port over the in-memory store
//! and queue of `memory.rs`, with its spool directory in a temporary directory, boto3 (from the
//! test venv) and aws-sdk-s3 as independent signers, and a hand-built multipart body for exact
//! control over field order.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use tempfile::TempDir;
use vetted_core::ports::{QueueMessage, WorkQueue};
use vetted_core::{Clock, SystemClock};
use vetted_s3_endpoint::{Credentials, S3Config, S3Endpoint};

use crate::memory::{MemoryObjectStore, RecordingQueue};

pub const BUCKET: &str = "vetted-uploads";
pub const REGION: &str = "us-east-1";
pub const ACCESS_KEY: &str = "AKIDVETTEDDEV";
pub const SECRET_KEY: &str = "dev/secret+key=for-tests";
pub const ORIGIN: &str = "http://localhost:5173";

pub struct App {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub store: Arc<MemoryObjectStore>,
    pub queue: Arc<RecordingQueue>,
    pub spool_dir: PathBuf,
    pub endpoint: Arc<S3Endpoint>,
    pub http: reqwest::Client,
    _dir: TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub async fn spawn_app() -> App {
    spawn_app_with(|_| {}).await
}

/// Serves the endpoint merged into a router with another route, as `vetted serve` will.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut S3Config)) -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryObjectStore::default());
    let queue = Arc::new(RecordingQueue::default());
    let spool_dir = dir.path().join("spool");
    let mut config = S3Config::new(
        BUCKET,
        REGION,
        Credentials {
            access_key_id: ACCESS_KEY.to_owned(),
            secret_access_key: SECRET_KEY.to_owned(),
        },
        &spool_dir,
        ORIGIN,
    );
    adjust(&mut config);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let endpoint = S3Endpoint::new(config, store.clone(), queue.clone(), clock).unwrap();
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(endpoint.router());
    let endpoint_handle = Arc::clone(&endpoint);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    App {
        base: format!("http://{address}"),
        store,
        queue,
        spool_dir,
        endpoint: endpoint_handle,
        http: {
            // reqwest is built without a crypto provider of its own (see the workspace's
            // rustls entry); install ring's before building a client.
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::new()
        },
        _dir: dir,
        server,
    }
}

impl App {
    pub fn endpoint_url(&self) -> String {
        format!("{}/s3", self.base)
    }

    /// Every message on the queue now (received, so they will not be seen again).
    pub async fn events(&self) -> Vec<QueueMessage> {
        let mut all = Vec::new();
        loop {
            let batch = self.queue.receive(10, Duration::ZERO).await.unwrap();
            if batch.is_empty() {
                return all;
            }
            all.extend(batch);
        }
    }

    /// Spool files still on disk: there must never be any once a request has finished.
    pub fn spool_leftovers(&self) -> Vec<PathBuf> {
        vetted_s3_endpoint::spool::leftovers(&self.spool_dir).unwrap()
    }

    /// The Rust SDK's S3 client for this endpoint, for presigning as an independent signer.
    pub fn sdk_client(&self) -> aws_sdk_s3::Client {
        use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            // The SDK joins the endpoint's path and the bucket without a separator of its own,
            // so a path-prefixed endpoint needs its trailing slash ("/s3/", not "/s3").
            .endpoint_url(format!("{}/", self.endpoint_url()))
            .force_path_style(true)
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// Signs the requests with boto3; see `boto_sign.py`.
    pub async fn boto(&self, requests: Value) -> Vec<Value> {
        let spec = json!({
            "endpoint": self.endpoint_url(),
            "region": REGION,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "bucket": BUCKET,
            "requests": requests,
        });
        boto_sign(spec).await
    }

    /// Signs with boto3 using other credentials.
    pub async fn boto_as(&self, access_key: &str, secret_key: &str, requests: Value) -> Vec<Value> {
        let spec = json!({
            "endpoint": self.endpoint_url(),
            "region": REGION,
            "access_key": access_key,
            "secret_key": secret_key,
            "bucket": BUCKET,
            "requests": requests,
        });
        boto_sign(spec).await
    }
}

/// The test venv's Python: `$VETTED_TEST_VENV/bin/python` (set by scripts/test), else the
/// workspace's `.venv`. Missing is a failure, not a skip: these tests need an independent
/// signer.
fn python() -> PathBuf {
    let venv = std::env::var_os("VETTED_TEST_VENV").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv")),
        PathBuf::from,
    );
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "no Python at {} - run scripts/venv (or set VETTED_TEST_VENV) to install boto3",
        python.display()
    );
    python
}

async fn boto_sign(spec: Value) -> Vec<Value> {
    let python = python();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/endpoint/boto_sign.py");
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(&python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        serde_json::to_writer(child.stdin.take().unwrap(), &spec).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "boto_sign.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<Vec<Value>>(&output.stdout).unwrap()
    })
    .await
    .unwrap()
}

pub const BOUNDARY: &str = "vettedTestBoundary0123456789";

/// A multipart body: `before` fields, then the file (if any), then `after` fields.
pub fn multipart(
    before: &[(String, String)],
    file: Option<&[u8]>,
    after: &[(String, String)],
) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    let mut field = |name: &str, value: &str| {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    };
    for (name, value) in before {
        field(name, value);
    }
    if let Some(bytes) = file {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"logo.png\"\r\nContent-Type: image/png\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    for (name, value) in after {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// The fields of a boto3 `generate_presigned_post` result, in its order.
pub fn post_fields(signed: &Value) -> Vec<(String, String)> {
    signed["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
        .collect()
}

/// Replaces (or appends) a field's value.
pub fn with_field(fields: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = fields.to_vec();
    match out.iter_mut().find(|(n, _)| n == name) {
        Some(entry) => entry.1 = value.to_owned(),
        None => out.push((name.to_owned(), value.to_owned())),
    }
    out
}

/// The S3 error code in an XML error body.
pub fn error_code(body: &str) -> String {
    let start = body.find("<Code>").map(|i| i + "<Code>".len());
    let end = body.find("</Code>");
    match (start, end) {
        (Some(start), Some(end)) if start <= end => body[start..end].to_owned(),
        _ => panic!("not an S3 error document: {body}"),
    }
}

/// A fresh `incoming/{owner}/{upload_id}` key.
pub fn incoming_key() -> String {
    vetted_core::ObjectKey::incoming(
        &"r1/gallery-1".parse().unwrap(),
        &vetted_core::UploadId::generate(),
    )
    .to_string()
}

/// A small PNG-looking payload of `len` bytes.
pub fn payload(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend(
        (0..)
            .map(|i: u32| (i % 251) as u8)
            .take(len.saturating_sub(8)),
    );
    bytes.truncate(len);
    bytes
}
