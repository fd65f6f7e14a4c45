//! The intake worker against moto, measured for BENCHMARKS.md (printed as Markdown):
//!
//! 1. Bytes read per object, by type: one upload of each sample through the intake function,
//!    with the S3 adapter wrapped to count what its reads return.
//! 2. Time per message: `MESSAGES` (default 500) real uploads, their notifications taken off
//!    the intake queue, then handed to the intake function one message per invocation, one
//!    after another. Accepted files (PNG, JPEG, WebP in turn): record read, HEAD, ranged GET,
//!    the gate, the conditional write, PutEvents, DescribeExecution + StartExecution. Refused
//!    files (HTML declared PNG), for comparison: the same up to the verdict, then a second
//!    conditional write, PutEvents, and the quarantine (CopyObject, HEAD, DeleteObject).
//!
//! Run against a moto with Step Functions execution on (as `scripts/test` starts it):
//! `VETTED_TEST_AWS_ENDPOINT=http://127.0.0.1:PORT cargo run -p vetted-tests --example intake_worker [-- MESSAGES]`

#[path = "../intake_moto/support.rs"]
mod support;

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use vetted_core::ports::{ObjectMeta, ObjectStore, StoreError};
use vetted_core::{ImageType, ObjectKey, Status};

use support::{Pipeline, failed_ids, function_config};

/// The S3 adapter, counting the bytes its reads return.
struct Counting {
    inner: Arc<dyn ObjectStore>,
    bytes: AtomicU64,
    reads: AtomicU64,
}

impl Counting {
    /// (bytes, reads) since the last call.
    fn take(&self) -> (u64, u64) {
        (
            self.bytes.swap(0, Ordering::SeqCst),
            self.reads.swap(0, Ordering::SeqCst),
        )
    }

    fn count(&self, read: &Bytes) {
        self.bytes.fetch_add(read.len() as u64, Ordering::SeqCst);
        self.reads.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl ObjectStore for Counting {
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StoreError> {
        self.inner.head(key).await
    }

    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<Bytes, StoreError> {
        let read = self.inner.get_range(key, range).await?;
        self.count(&read);
        Ok(read)
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes, StoreError> {
        let read = self.inner.get(key).await?;
        self.count(&read);
        Ok(read)
    }

    async fn get_range_of_version(
        &self,
        key: &ObjectKey,
        version: &str,
        range: Range<u64>,
    ) -> Result<Bytes, StoreError> {
        let read = self.inner.get_range_of_version(key, version, range).await?;
        self.count(&read);
        Ok(read)
    }

    async fn get_version(&self, key: &ObjectKey, version: &str) -> Result<Bytes, StoreError> {
        let read = self.inner.get_version(key, version).await?;
        self.count(&read);
        Ok(read)
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError> {
        self.inner.put(key, body, content_type).await
    }

    async fn put_file(
        &self,
        key: &ObjectKey,
        path: &Path,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError> {
        self.inner.put_file(key, path, content_type).await
    }

    async fn copy(
        &self,
        from: &ObjectKey,
        to: &ObjectKey,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError> {
        self.inner.copy(from, to, content_type).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }

    async fn delete_version(&self, key: &ObjectKey, version: &str) -> Result<(), StoreError> {
        self.inner.delete_version(key, version).await
    }

    async fn delete_all_versions(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.inner.delete_all_versions(key).await
    }
}

/// Catalogue samples: the accepted types, a JPEG whose frame header sits behind 60 KiB of
/// EXIF, and refused files.
const BY_TYPE: [&str; 8] = [
    "png_rgb",
    "jpeg_baseline",
    "jpeg_exif_60k",
    "webp_lossless",
    "webp_extended",
    "html_as_png",
    "pdf_as_jpg",
    "jpeg_header_too_deep",
];

async fn bytes_read_by_type(pipeline: &Pipeline) {
    let counting = Arc::new(Counting {
        inner: Arc::new(pipeline.resources.object_store(&pipeline.ctx)),
        bytes: AtomicU64::new(0),
        reads: AtomicU64::new(0),
    });
    let mut intake = intake::intake(&pipeline.ctx, function_config(&pipeline.resources));
    intake.ports.objects = counting.clone();
    println!("| sample | size (bytes) | verdict | bytes read | ranged GETs |");
    println!("|---|---:|---|---:|---:|");
    for name in BY_TYPE {
        let sample = vetted_samples::sample(name);
        let declared = ImageType::from_mime(sample.declared_type).expect("a declared image type");
        let size = sample.bytes.len() as u64;
        let intent = pipeline.intent(declared, size).await;
        pipeline
            .put(intent.key.as_str(), sample.bytes, sample.declared_type)
            .await;
        let notification = pipeline.notifications(1).await;
        counting.take();
        intake
            .handle_message(notification[0].body().unwrap_or_default())
            .await
            .expect("handled");
        let (bytes, reads) = counting.take();
        let record = pipeline.record(&intent.id).await;
        let verdict = match (record.status, record.reason) {
            (Status::Rejected, Some(reason)) => format!("rejected: {reason}"),
            (status, _) => status.to_string(),
        };
        println!("| {name} | {size} | {verdict} | {bytes} | {reads} |");
    }
}

/// The nearest-rank percentile of sorted durations.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn median(durations: &[Duration]) -> Duration {
    let mut sorted = durations.to_vec();
    sorted.sort();
    percentile(&sorted, 0.5)
}

/// Median, p90, p99, max and mean, as table cells.
fn summary(mut durations: Vec<Duration>) -> String {
    durations.sort();
    let mean = durations.iter().sum::<Duration>() / durations.len() as u32;
    [
        percentile(&durations, 0.5),
        percentile(&durations, 0.9),
        percentile(&durations, 0.99),
        durations[durations.len() - 1],
        mean,
    ]
    .map(ms)
    .join(" | ")
}

/// What one timed run uploads, and what every message must end in.
struct Run {
    label: &'static str,
    files: Vec<(ImageType, Vec<u8>)>,
    ends: Status,
}

/// Median, p90, p99, max and mean of `messages` messages, one per invocation, one at a time.
async fn time_per_message(pipeline: &Pipeline, run: &Run, messages: usize) {
    let setup = Instant::now();
    let mut uploads = Vec::with_capacity(messages);
    for i in 0..messages {
        let (declared, bytes) = &run.files[i % run.files.len()];
        let intent = pipeline.intent(*declared, bytes.len() as u64).await;
        pipeline
            .put(intent.key.as_str(), bytes.clone(), declared.mime())
            .await;
        uploads.push(intent.id);
    }
    let notifications = pipeline.notifications(messages).await;
    eprintln!(
        "{}: {messages} uploads and their notifications ready in {:.1} s",
        run.label,
        setup.elapsed().as_secs_f64()
    );

    let mut times = Vec::with_capacity(messages);
    let wall = Instant::now();
    for message in &notifications {
        let started = Instant::now();
        let response = pipeline.invoke(std::slice::from_ref(message)).await;
        times.push(started.elapsed());
        assert_eq!(failed_ids(&response), Vec::<String>::new());
    }
    let wall = wall.elapsed();
    let tenth = (messages / 10).max(1);
    eprintln!(
        "{}: median of the first {tenth} messages {}, of the last {tenth} {}",
        run.label,
        ms(median(&times[..tenth])),
        ms(median(&times[messages - tenth..]))
    );
    for id in &uploads {
        assert_eq!(pipeline.record(id).await.status, run.ends, "{id}");
    }
    println!(
        "| {} | {messages} | {} | {:.1} s |",
        run.label,
        summary(times),
        wall.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let endpoint = vetted_tests::aws_endpoint_required();
    let messages: usize = std::env::args()
        .nth(1)
        .map_or(500, |n| n.parse().expect("MESSAGES is a number"));
    let runs = [
        Run {
            label: "refused (HTML declared PNG): rejected, quarantined",
            files: vec![(ImageType::Png, vetted_samples::hostile::html())],
            ends: Status::Rejected,
        },
        Run {
            label: "accepted (PNG, JPEG, WebP in turn): review started",
            files: vec![
                (ImageType::Png, vetted_samples::images::png(320, 240)),
                (ImageType::Jpeg, vetted_samples::images::jpeg(320, 240)),
                (
                    ImageType::Webp,
                    vetted_samples::images::webp_lossless(200, 100),
                ),
            ],
            ends: Status::Received,
        },
    ];
    println!();
    println!("| run | messages | median | p90 | p99 | max | mean | total |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for run in &runs {
        // A fresh pipeline each. Refused files go first: every accepted one leaves an execution
        // waiting in moto (on threads of its own, about three each), which the refused run
        // should not have to share the server with.
        let pipeline = Pipeline::on(endpoint.clone(), "bench-time", |_| {}).await;
        time_per_message(&pipeline, run, messages).await;
    }
    println!();
    let sizes = Pipeline::on(endpoint, "bench-bytes", |_| {}).await;
    bytes_read_by_type(&sizes).await;
}
