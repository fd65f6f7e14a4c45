//! `vetted bench`: drives a running pipeline through its real HTTP endpoints, the way
//! browsers would, and reports throughput, latency, the bytes the gate read per object and
//! the server's peak memory, for two paths measured one after the other on the same server:
//! the gate-only path (every upload refused by intake's gate: endpoint, spool, store, intake,
//! quarantine, no sanitize) and the full path (a mix of valid and invalid files, the valid
//! ones sanitized and brought to `IN_REVIEW`).
//!
//! Latency is measured by the server, not the driver: from an upload's `created_at` (the
//! intent) to its `status_since` when it reached `IN_REVIEW` (or `REJECTED`), both read back
//! from the API after the run. So the driver's own polling cannot distort the figures, and
//! the clock is the server's.
//!
//! Without `--url`, it starts `vetted serve` on a fresh data directory and a free port, and
//! reads that process's peak resident memory (VmHWM) when each phase ends.

mod report;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Semaphore;
use vetted_api::auth::{DevKey, Role};
use vetted_core::inspect::run_gate;
use vetted_core::policy::SlotPolicies;
use vetted_core::{Clock, RestaurantId, Slot, SlotKind, SlotRef, SystemClock};
use vetted_samples::{hostile, images};

use crate::client::VettedClient;
use report::{PhaseRun, Report, print_gate_bytes};

/// Drive load through a running pipeline and report throughput, latency and memory.
///
/// By default it measures two paths on one server, one after the other, each with
/// `--uploads` uploads: the gate-only path, then the full path.
///
/// Example: `vetted bench --uploads 1000 --concurrency 32` (starts its own server).
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// How many uploads to send, per path.
    #[arg(long, default_value_t = 500)]
    uploads: usize,
    /// How many uploads are in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Which paths to measure. `gate`: every upload is refused by intake's gate (HTML named
    /// .png, too small, truncated), so it measures the upload endpoint, the spool and the
    /// store, intake's read and gate, the record's moves and the quarantine, without sanitize.
    /// `full`: the mix set by --invalid-share, whose valid uploads are also decoded,
    /// re-encoded and previewed by sanitize and brought to IN_REVIEW. `both` runs the gate
    /// phase, then the full phase, on the same server.
    #[arg(long, value_enum, default_value_t = Paths::Both)]
    paths: Paths,
    /// The share of the full path's uploads that are invalid (spoofed, too small, truncated),
    /// 0 to 1. `--paths full --invalid-share 1` is the gate-only path again.
    #[arg(long, default_value_t = 0.2)]
    invalid_share: f64,
    /// A running server to drive; without it, bench starts `vetted serve` itself.
    #[arg(long)]
    url: Option<String>,
    /// The data directory of the server at --url, for its dev-token key.
    #[arg(long, requires = "url")]
    data: Option<PathBuf>,
    /// Print the report as JSON: `{"phases": [...], "gate_bytes_read": [...]}`, one object
    /// per path.
    #[arg(long)]
    json: bool,
}

/// Which paths a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Paths {
    /// The gate-only phase, then the full phase.
    Both,
    /// Only uploads the gate refuses.
    Gate,
    /// Only the mix of --invalid-share.
    Full,
}

/// One path through the pipeline, measured as one phase of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Gate,
    Full,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Gate => "gate-only",
            Phase::Full => "full",
        }
    }
}

impl Paths {
    fn phases(self) -> &'static [Phase] {
        match self {
            Paths::Both => &[Phase::Gate, Phase::Full],
            Paths::Gate => &[Phase::Gate],
            Paths::Full => &[Phase::Full],
        }
    }
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.uploads == 0 || args.concurrency == 0 || !(0.0..=1.0).contains(&args.invalid_share) {
        bail!("--uploads and --concurrency must be at least 1, --invalid-share within 0..=1");
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(bench(args))
}

struct Sample {
    name: &'static str,
    content_type: &'static str,
    bytes: Vec<u8>,
    valid: bool,
}

fn samples() -> Vec<Sample> {
    let mut cut = images::jpeg(320, 240);
    cut.truncate(2);
    let sample = |name, content_type, bytes, valid| Sample {
        name,
        content_type,
        bytes,
        valid,
    };
    vec![
        sample("logo.png", "image/png", images::png(256, 256), true),
        sample("photo.jpg", "image/jpeg", images::jpeg(640, 480), true),
        sample(
            "banner.webp",
            "image/webp",
            images::webp_lossless(400, 100),
            true,
        ),
        sample("menu.png", "image/png", hostile::html(), false),
        sample("icon.png", "image/png", images::png(16, 16), false),
        sample("cut.jpg", "image/jpeg", cut, false),
    ]
}

struct Server {
    base: String,
    data: PathBuf,
    child: Option<tokio::process::Child>,
    _dir: Option<tempfile::TempDir>,
}

/// The per-user upload limits (`vetted_api::uploads::quota`), lifted for a load run.
pub const UNLIMITED_UPLOADS: [(&str, &str); 3] = [
    ("VETTED_UPLOADS_PER_MINUTE", "100000000"),
    ("VETTED_UPLOAD_BURST", "100000000"),
    ("VETTED_MAX_OPEN_INTENTS", "100000000"),
];

async fn start_server(args: &BenchArgs) -> anyhow::Result<Server> {
    if let Some(url) = &args.url {
        let data = args
            .data
            .clone()
            .context("--url needs --data (for the dev-token key)")?;
        return Ok(Server {
            base: url.trim_end_matches('/').to_owned(),
            data,
            child: None,
            _dir: None,
        });
    }
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("VETTED_LOG", "warn")
        // A load driver is one user asking as fast as it can: lift that user's limits.
        .envs(UNLIMITED_UPLOADS)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting vetted serve")?;
    let stdout = child.stdout.take().context("no stdout from vetted serve")?;
    let mut lines = BufReader::new(stdout).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(url) = line.trim().strip_prefix("API") {
                return anyhow::Ok(url.trim().trim_end_matches("/api/").to_owned());
            }
        }
        bail!("vetted serve exited before printing its address")
    })
    .await
    .context("vetted serve did not start within 60 s")??;
    // Keep reading the server's stdout: the banner's last write can come after the line read
    // above, and a closed pipe would make that write fail and the server panic.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Server {
        base,
        data,
        child: Some(child),
        _dir: Some(dir),
    })
}

/// The restaurant the driver's uploads are for.
const BENCH_RESTAURANT: &str = "bench";

/// One upload the driver sent.
struct Sent {
    id: String,
}

async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let server = start_server(&args).await?;
    let key = DevKey::load_or_create(&server.data).context("the server's dev key")?;
    let owner = key.issue(
        "bench-owner",
        Role::Owner,
        Duration::from_secs(3600),
        SystemClock.now(),
    )?;
    let client = VettedClient::new(&server.base)?;
    let admin = key.issue(
        "bench-admin",
        Role::Admin,
        Duration::from_secs(3600),
        SystemClock.now(),
    )?;
    client
        .ensure_restaurant(&admin, BENCH_RESTAURANT, "Bench", &["bench-owner"])
        .await?;
    // Gallery photos: the kind whose policy the samples are made for.
    let slot = Arc::new(SlotRef::new(
        RestaurantId::parse(BENCH_RESTAURANT)?,
        Slot::Gallery(1),
    ));
    let samples = Arc::new(samples());
    let driver = Driver {
        client,
        owner,
        slot,
        samples: samples.clone(),
        concurrency: args.concurrency,
    };
    let server_pid = server.child.as_ref().and_then(|c| c.id());
    let mut reports = Vec::new();
    for &path in args.paths.phases() {
        let invalid_share = match path {
            Phase::Gate => 1.0,
            Phase::Full => args.invalid_share,
        };
        let (sent, run) = driver.send(path, args.uploads, invalid_share).await?;
        let records = settle(&driver.client, &driver.owner, &sent, args.concurrency).await?;
        reports.push(Report::new(
            run,
            &records,
            server_pid.and_then(peak_rss_kib),
        ));
    }
    let gate_bytes = gate_bytes(&samples).await?;
    if args.json {
        let out = json!({
            "phases": reports.iter().map(Report::to_json).collect::<Vec<_>>(),
            "gate_bytes_read": gate_bytes.iter().map(|(n, b)| json!({"file": n, "bytes": b})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("vetted bench");
        for report in &reports {
            report.print();
        }
        print_gate_bytes(&gate_bytes);
    }
    if let Some(mut child) = server.child {
        let _ = child.kill().await;
    }
    Ok(())
}

/// What every phase sends through: one owner's uploads to one slot.
struct Driver {
    client: VettedClient,
    owner: String,
    slot: Arc<SlotRef>,
    samples: Arc<Vec<Sample>>,
    concurrency: usize,
}

impl Driver {
    /// Sends `uploads` uploads, `invalid_share` of them invalid, and answers what was sent.
    async fn send(
        &self,
        path: Phase,
        uploads: usize,
        invalid_share: f64,
    ) -> anyhow::Result<(Vec<Sent>, PhaseRun)> {
        let samples = &self.samples;
        let (valid, invalid): (Vec<usize>, Vec<usize>) =
            (0..samples.len()).partition(|&i| samples[i].valid);
        let slots = Arc::new(Semaphore::new(self.concurrency));
        let started = Instant::now();
        let mut sends = tokio::task::JoinSet::new();
        for n in 0..uploads {
            // Invalid uploads spread evenly through the run: upload n is invalid when the
            // running count of invalid ones, n × share, passes a whole number.
            let invalid_now =
                ((n + 1) as f64 * invalid_share).floor() > (n as f64 * invalid_share).floor();
            let pool = if invalid_now && !invalid.is_empty() {
                &invalid
            } else {
                &valid
            };
            let index = pool[n % pool.len()];
            let (client, owner, samples) =
                (self.client.clone(), self.owner.clone(), samples.clone());
            let slot = self.slot.clone();
            let permit = slots.clone().acquire_owned().await?;
            sends.spawn(async move {
                let sample = &samples[index];
                let result = async {
                    let grant = client
                        .request_upload(
                            &owner,
                            &slot,
                            sample.name,
                            sample.content_type,
                            sample.bytes.len(),
                            "post",
                        )
                        .await?;
                    client
                        .send_file(&grant, sample.name, sample.bytes.clone())
                        .await?;
                    anyhow::Ok(Sent {
                        id: grant.upload_id,
                    })
                }
                .await;
                drop(permit);
                result
            });
        }
        let mut sent = Vec::with_capacity(uploads);
        let mut send_errors = 0usize;
        while let Some(joined) = sends.join_next().await {
            match joined? {
                Ok(upload) => sent.push(upload),
                Err(error) => {
                    send_errors += 1;
                    if send_errors <= 3 {
                        eprintln!("upload failed: {error:#}");
                    }
                }
            }
        }
        let run = PhaseRun {
            path,
            uploads,
            concurrency: self.concurrency,
            invalid_share,
            send_errors,
            sending: started.elapsed(),
        };
        Ok((sent, run))
    }
}

/// Waits until every upload has left AWAITING_UPLOAD and RECEIVED, and returns the records.
async fn settle(
    client: &VettedClient,
    owner: &str,
    sent: &[Sent],
    concurrency: usize,
) -> anyhow::Result<Vec<Value>> {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut records: Vec<Option<Value>> = vec![None; sent.len()];
    loop {
        let pending: Vec<usize> = (0..sent.len()).filter(|&i| records[i].is_none()).collect();
        if pending.is_empty() {
            return Ok(records.into_iter().flatten().collect());
        }
        if Instant::now() > deadline {
            bail!("{} uploads still unsettled after 10 minutes", pending.len());
        }
        let slots = Arc::new(Semaphore::new(concurrency));
        let mut reads = tokio::task::JoinSet::new();
        for i in pending {
            let (client, owner, id) = (client.clone(), owner.to_owned(), sent[i].id.clone());
            let permit = slots.clone().acquire_owned().await?;
            reads.spawn(async move {
                let record = client.upload(&owner, &id).await;
                drop(permit);
                (i, record)
            });
        }
        while let Some(joined) = reads.join_next().await {
            let (i, record) = joined?;
            let record = record?;
            if !matches!(
                record["status"].as_str(),
                Some("AWAITING_UPLOAD" | "RECEIVED")
            ) {
                records[i] = Some(record);
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Bytes the gate reads per sample, by running the same gate, with the default gallery policy,
/// over the same bytes.
async fn gate_bytes(samples: &[Sample]) -> anyhow::Result<Vec<(&'static str, u64)>> {
    let policy = SlotPolicies::default().for_kind(SlotKind::Gallery).clone();
    let mut out = Vec::new();
    for sample in samples {
        let bytes = bytes::Bytes::from(sample.bytes.clone());
        let total = bytes.len() as u64;
        let outcome = run_gate(total, sample.content_type, &policy, |n| {
            let prefix = bytes.slice(..usize::try_from(n).unwrap_or(usize::MAX).min(bytes.len()));
            async move { Ok::<_, std::convert::Infallible>(prefix) }
        })
        .await?;
        out.push((sample.name, outcome.bytes_read));
    }
    Ok(out)
}

/// Peak resident memory of a process, from /proc (Linux).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
