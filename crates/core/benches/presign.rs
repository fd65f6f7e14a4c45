//! Presign POST throughput: one complete policy (document, base64, SigV4 signature, form
//! fields) per iteration, with temporary credentials as on Lambda; with the signing key derived
//! every time, and reused as `S3Presigner` does.
//! `scripts/bench-presign` runs this next to boto3's `generate_presigned_post` and prints the ratio.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vetted_core::presign::sigv4::SigningKeyCache;
use vetted_core::presign::{
    BucketEndpoint, Credentials, PostPolicyRequest, S3Target, presign_post, presign_post_with,
};
use vetted_core::{ImageType, ObjectKey, SlotRef, Timestamp, UploadId};

fn presign(c: &mut Criterion) {
    let target = S3Target::new(
        "vetted-bench-bucket",
        "eu-west-1",
        BucketEndpoint::VirtualHosted,
    )
    .expect("valid bench target");
    let slot: SlotRef = "bench-restaurant/logo".parse().expect("valid slot");
    let upload = UploadId::generate();
    let key = ObjectKey::incoming(&slot, &upload);
    let credentials = Credentials::new(
        "ASIAEXAMPLEEXAMPLE00",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        Some("IQoJb3JpZ2luX2VjEXAMPLETOKEN".repeat(20)),
    );
    let now = Timestamp::from_unix_millis(1_772_360_430_000);

    let request = PostPolicyRequest {
        target: &target,
        key: &key,
        content_type: ImageType::Png,
        length: 1..=5 * 1024 * 1024,
        sha256: None,
        upload_id: &upload,
        now,
        expires_in: Duration::from_secs(300),
    };
    let keys = SigningKeyCache::new();

    let mut group = c.benchmark_group("presign");
    group.throughput(Throughput::Elements(1));
    // Everything from scratch, the signing key included, as boto3 does on every call.
    group.bench_function("post_policy", |b| {
        b.iter(|| black_box(presign_post(black_box(&request), black_box(&credentials))))
    });
    // What `S3Presigner` does: the day's signing key is reused.
    group.bench_function("post_policy_cached_key", |b| {
        b.iter(|| {
            black_box(presign_post_with(
                black_box(&request),
                black_box(&credentials),
                &keys,
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, presign);
criterion_main!(benches);
