//! `vetted serve --backend aws` on the moto emulator, end to end, started in-process: the same
//! server, pages and workers as the embedded backend, over S3, SQS, DynamoDB, Step Functions
//! (running `statemachine/review.asl.json`) and EventBridge. With no AWS keys in the
//! environment, serve uses the emulator's dummy ones; the region is us-east-1 unless
//! `AWS_REGION` says otherwise.
//!
//! An owner uploads a JPEG carrying GPS EXIF by presigned POST (approved), a PNG by presigned
//! PUT (declined) and an HTML page named .png (refused by the gate); both go straight to the
//! emulated S3. The published copy is read back from the bucket and must be re-encoded, the
//! incoming objects must be gone, and every event, read from EventBridge through a rule that
//! sends them to a queue, must match its schema, once per status change. Admins manage
//! webhook endpoints there too, over DynamoDB. The owner, opted in to emails, gets one SES
//! email per outcome, read back from moto's sent-message store.
//!
//! Needs `VETTED_TEST_AWS_ENDPOINT` (scripts/test starts moto and sets it); skipped without it,
//! or failed when `VETTED_TEST_REQUIRE_AWS=1` (see `vetted_tests::aws_endpoint`).

// clippy.toml allows unwrap in #[test] functions; the helpers here are test code too.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::client::Api;
use support::events::{EventSchemas, expected_types, types_of};
use support::server::{ServeSettings, Server};
use support::{contains, has_jpeg_segment, wait_for_status};
use vetted_app::serve::BackendChoice;
use vetted_aws::config::AwsContext;
use vetted_core::{ObjectKey, SlotRef, UploadId};
use vetted_samples::{hostile, images};

const OWNER: &str = "owner-aws";
const RESTAURANT: &str = "bistro-aws";
const REGION: &str = "us-east-1";

/// `vetted serve --backend aws` on moto under a fresh `{label}-...` prefix, with its data
/// directory, which must live as long as the server; `None` when no emulator is set.
async fn serve_on_moto(label: &str) -> Option<(Server, tempfile::TempDir)> {
    let endpoint = vetted_tests::aws_endpoint()?;
    let prefix = format!(
        "{label}-{}",
        &UploadId::generate().to_string().replace('-', "")[16..]
    );
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(ServeSettings {
        backend: BackendChoice::Aws,
        endpoint_url: Some(endpoint),
        prefix,
        ..ServeSettings::unscanned(dir.path().join("data"))
    })
    .await;
    Some((server, dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_decline_and_reject_on_the_aws_backend() {
    let Some(endpoint) = vetted_tests::aws_endpoint() else {
        return;
    };
    let prefix = format!(
        "serve-{}",
        &UploadId::generate().to_string().replace('-', "")[16..]
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Owner emails through SES (moto), from this identity, which serve creates there.
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        "[mail]\nfrom = \"Vetted <vetted@serve-aws.example>\"\n",
    )
    .unwrap();
    let server = Server::start(ServeSettings {
        backend: BackendChoice::Aws,
        endpoint_url: Some(endpoint.clone()),
        prefix: prefix.clone(),
        config: Some(config),
        ..ServeSettings::unscanned(&data)
    })
    .await;
    let base = server.base.clone();
    let ctx = AwsContext::builder()
        .endpoint_url(&endpoint)
        .region(REGION)
        .static_credentials("test", "test")
        .load()
        .await;
    // serve created the bus at start-up; tap it before anything happens.
    let tap = EventTap::attach(&ctx, &format!("{prefix}-events")).await;
    let (owner, moderator) = (
        server.token(OWNER, "owner"),
        server.token("moderator-aws", "moderator"),
    );
    let api = Api::new();
    server.restaurant(RESTAURANT, &[OWNER]).await;
    let slot = |name: &str| format!("{RESTAURANT}/{name}");
    let mail_to = format!("{OWNER}.{prefix}@owners.example");
    let opt_in = api
        .http()
        .put(format!("{base}/api/me/notifications"))
        .bearer_auth(server.owner_with_email(OWNER, &mail_to))
        .json(&serde_json::json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(opt_in.status(), 200, "{:?}", opt_in.text().await);

    let gps_jpeg = images::jpeg_with_gps(320, 200, 48.8584, 2.2945);
    assert!(contains(&gps_jpeg, b"Exif\0\0"), "the sample lacks EXIF");
    let approved = api
        .upload_file(
            &base,
            &owner,
            &slot("gallery-1"),
            "terrace.jpg",
            "image/jpeg",
            gps_jpeg,
            "post",
        )
        .await;
    let declined = api
        .upload_file(
            &base,
            &owner,
            &slot("gallery-2"),
            "blurry.png",
            "image/png",
            images::png(96, 96),
            "put",
        )
        .await;
    let spoofed = api
        .upload_file(
            &base,
            &owner,
            &slot("gallery-3"),
            "index.png",
            "image/png",
            hostile::html(),
            "post",
        )
        .await;

    let rejected = wait_for_status(&api, &base, &owner, &spoofed, "REJECTED").await;
    assert_eq!(rejected["reason"], "type_not_allowed", "{rejected}");
    for id in [&approved, &declined] {
        wait_for_status(&api, &base, &owner, id, "IN_REVIEW").await;
    }
    let queue = api.reviews(&base, &moderator, None).await.unwrap();
    assert_eq!(queue.status, 200, "{:?}", queue.body);
    let listed: Vec<&str> = queue.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|item| item["upload_id"].as_str())
        .collect();
    assert!(
        listed.contains(&approved.as_str()) && listed.contains(&declined.as_str()),
        "{listed:?}"
    );

    for (id, decision, reason) in [
        (&approved, "approve", None),
        (&declined, "decline", Some("low_quality")),
    ] {
        let answer = api
            .decide(&base, &moderator, id, decision, reason)
            .await
            .unwrap();
        assert_eq!(answer.status, 200, "deciding {id}: {:?}", answer.body);
        assert_eq!(answer.body["delivered"], true, "{:?}", answer.body);
    }
    let published = wait_for_status(&api, &base, &owner, &approved, "PUBLISHED").await;
    assert_eq!(published["width"], 320, "{published}");
    let gone = wait_for_status(&api, &base, &owner, &declined, "DECLINED").await;
    assert_eq!(gone["decline_reason"], "low_quality", "{gone}");

    // What is in the bucket: a re-encoded published copy, and no incoming object left.
    let s3 = ctx.s3();
    let bucket = format!("{prefix}-uploads");
    let approved_slot: SlotRef = slot("gallery-1").parse().unwrap();
    let declined_slot: SlotRef = slot("gallery-2").parse().unwrap();
    let key = ObjectKey::published(&approved_slot, &UploadId::parse(&approved).unwrap());
    let object = s3
        .get_object()
        .bucket(&bucket)
        .key(key.as_str())
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {key}: {e:?}"));
    assert_eq!(object.content_type(), Some("image/jpeg"));
    let bytes = object.body.collect().await.unwrap().into_bytes();
    assert!(
        !contains(&bytes, b"Exif\0\0") && !has_jpeg_segment(&bytes, 0xE1),
        "the published JPEG kept its EXIF"
    );
    let decoded = image::load_from_memory(&bytes).expect("the published JPEG decodes");
    assert_eq!((decoded.width(), decoded.height()), (320, 200));
    let (approved_id, declined_id) = (
        UploadId::parse(&approved).unwrap(),
        UploadId::parse(&declined).unwrap(),
    );
    for key in [
        ObjectKey::incoming(&approved_slot, &approved_id),
        ObjectKey::incoming(&declined_slot, &declined_id),
        ObjectKey::published(&declined_slot, &declined_id),
    ] {
        let head = s3
            .head_object()
            .bucket(&bucket)
            .key(key.as_str())
            .send()
            .await;
        assert!(head.is_err(), "{key} is still in the bucket");
    }

    // Events from EventBridge: valid, one per status change, in order per upload.
    let expected: BTreeMap<&str, &str> = [
        (approved.as_str(), "PUBLISHED"),
        (declined.as_str(), "DECLINED"),
        (spoofed.as_str(), "REJECTED"),
    ]
    .into();
    let total = expected.values().map(|s| expected_types(s).len()).sum();
    let events = tap.collect(total).await;
    EventSchemas::load().assert_all_valid(&events);
    for (id, status) in &expected {
        assert_eq!(
            types_of(&events, id),
            expected_types(status),
            "EventBridge events of {id} ({status}): {events:#?}"
        );
    }
    assert_eq!(events.len(), total, "an event was repeated: {events:#?}");

    // One SES email per outcome (published, declined, rejected), read from moto's store.
    let mails = support::eventually(
        Duration::from_secs(60),
        Duration::from_millis(200),
        "the owner's three emails in moto's SES",
        || async {
            let mails: Vec<Value> = vetted_contract::emulator::moto_ses_messages_once(&endpoint)
                .await?
                .into_iter()
                .filter(|m| m["destinations"]["ToAddresses"] == serde_json::json!([mail_to]))
                .collect();
            if mails.len() >= 3 {
                Ok(mails)
            } else {
                Err(format!("{mails:#?}"))
            }
        },
    )
    .await;
    let mut subjects: Vec<&str> = mails
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    subjects.sort_unstable();
    assert_eq!(
        subjects,
        [
            "bistro-aws: your new gallery image 1 is live",
            "bistro-aws: your new gallery image 2 was declined",
            "bistro-aws: your new gallery image 3 was not accepted",
        ],
        "{mails:#?}"
    );
    assert!(
        mails
            .iter()
            .all(|m| m["source"] == "Vetted <vetted@serve-aws.example>")
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_replaces_a_logo_and_a_moderator_rolls_it_back_on_the_aws_backend() {
    let Some(endpoint) = vetted_tests::aws_endpoint() else {
        return;
    };
    let prefix = format!(
        "walk-{}",
        &UploadId::generate().to_string().replace('-', "")[16..]
    );
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(ServeSettings {
        backend: BackendChoice::Aws,
        endpoint_url: Some(endpoint.clone()),
        prefix: prefix.clone(),
        ..ServeSettings::unscanned(dir.path().join("data"))
    })
    .await;
    let ctx = AwsContext::builder()
        .endpoint_url(&endpoint)
        .region(REGION)
        .static_credentials("test", "test")
        .load()
        .await;
    let tap = EventTap::attach(&ctx, &format!("{prefix}-events")).await;
    let walk = support::logo_walk::replace_and_roll_back(&server).await;
    // 6 for the old logo (two slot changes), 5 for the new one, 3 for the withdrawn one,
    // 2 for the refused one and 6 for the removed gallery image (its publish and removal).
    let events = tap.collect(22).await;
    support::logo_walk::check_events(&walk, &events);
    assert_eq!(events.len(), 22, "an event was repeated: {events:#?}");
    drop(server);
}

/// A body whose SHA-256 is not the one pinned at the request is refused by S3 (moto, through
/// scripts/moto_server.py, which verifies it as S3 does) and by the proxy, and the upload
/// waits for the right one, whose checksum intake reads back with `ChecksumMode`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_other_than_the_pinned_sha256_is_refused_on_the_aws_backend() {
    let Some((server, _dir)) = serve_on_moto("sum").await else {
        return;
    };
    support::checksum_walk::pinned_checksums(&server).await;
    drop(server);
}

/// Issue 16, item 3 on moto: identical bytes reuse their decision (the digest of an unpinned
/// upload comes from sanitize, since S3 reports none), and a banned hash is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_bytes_reuse_their_decision_and_a_banned_hash_is_refused_on_the_aws_backend() {
    let Some((server, _dir)) = unscanned_aws_server("dedup", support::dedup_walk::CONFIG).await
    else {
        return;
    };
    support::dedup_walk::reuse_and_ban(&server).await;
    drop(server);
}

/// `vetted serve --backend aws` on the emulator under a fresh prefix, with `config` as its
/// settings file and no scanner required; `None` where the emulator's tests are skipped.
async fn unscanned_aws_server(name: &str, config: &str) -> Option<(Server, tempfile::TempDir)> {
    let endpoint = vetted_tests::aws_endpoint()?;
    let prefix = format!(
        "{name}-{}",
        &UploadId::generate().to_string().replace('-', "")[16..]
    );
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("serve.toml");
    std::fs::write(&config_path, config).unwrap();
    let server = Server::start(ServeSettings {
        backend: BackendChoice::Aws,
        endpoint_url: Some(endpoint),
        prefix,
        config: Some(config_path),
        ..ServeSettings::unscanned(dir.path().join("data"))
    })
    .await;
    Some((server, dir))
}

/// Issue 16, item 2 on moto: a 30 MiB multipart upload cut off after two parts resumes from
/// S3's ListParts, completes, and goes to review (`tests/support/multipart_walk.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_30_mib_multipart_upload_interrupted_after_two_parts_resumes_and_completes_on_the_aws_backend()
 {
    let Some((server, _dir)) =
        unscanned_aws_server("multipart", support::multipart_walk::CONFIG).await
    else {
        return;
    };
    support::multipart_walk::interrupted_and_resumed(&server).await;
    drop(server);
}

/// `/api/webhooks` is mounted on the AWS backend too, over the DynamoDB table serve's
/// bootstrap made: an admin registers an endpoint (its secret shown once) and lists it, and
/// an inside address is refused, since on AWS the guard is always on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_webhook_endpoints_on_the_aws_backend() {
    let Some((server, _dir)) = serve_on_moto("hooks").await else {
        return;
    };
    let created = server
        .admin_post(
            "/api/webhooks",
            serde_json::json!({"url": "https://hooks.example.com/vetted"}),
        )
        .await;
    assert!(
        created["secret"].as_str().unwrap().starts_with("whsec_"),
        "{created}"
    );
    let admin = server.token("ops-aws", "admin");
    let api = Api::new();
    let listed: Value = api
        .http()
        .get(format!("{}/api/webhooks", server.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["id"], created["id"]);
    assert!(items[0].get("secret").is_none(), "a secret is shown once");
    let refused = api
        .http()
        .post(format!("{}/api/webhooks", server.base))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"url": "https://127.0.0.1/hook"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["reason"], "forbidden_webhook_address", "{body}");
    drop(server);
}

/// `/api/admin/*` on the AWS backend: what failed lists every SQS queue's dead letters, and a
/// dry-run redrive and an expiry answer as on the embedded one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_see_and_redrive_what_failed_on_the_aws_backend() {
    let Some((server, _dir)) = serve_on_moto("admin").await else {
        return;
    };
    let admin = server.token("ops-aws", "admin");
    let api = Api::new();
    let failed: Value = api
        .http()
        .get(format!("{}/api/admin/failed", server.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let queues: Vec<&str> = failed["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["queue"].as_str().unwrap())
        .collect();
    assert!(
        ["intake", "sanitize", "review-tasks"]
            .iter()
            .all(|q| queues.contains(q)),
        "{failed}"
    );
    assert_eq!(failed["uploads"], serde_json::json!([]));
    let moved = server
        .admin_post(
            "/api/admin/queues/intake/redrive?dry_run=true",
            serde_json::json!(null),
        )
        .await;
    assert_eq!(moved["moved"], 0, "{moved}");
    let expired = server
        .admin_post("/api/admin/expire", serde_json::json!(null))
        .await;
    assert_eq!(expired["stale"], serde_json::json!([]), "{expired}");
    drop(server);
}

/// A queue that an EventBridge rule on the server's bus sends every Vetted event to.
struct EventTap {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl EventTap {
    async fn attach(ctx: &AwsContext, bus: &str) -> Self {
        let url = support::event_tap::attach(ctx, bus).await;
        Self {
            sqs: ctx.sqs(),
            url,
        }
    }

    /// The events' `detail`s, once `want` have arrived or a minute has passed (then a few
    /// seconds more, so that a repeated event is seen too).
    async fn collect(&self, want: usize) -> Vec<Value> {
        let mut events = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut settled: Option<Instant> = None;
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            for message in received.messages() {
                let envelope: Value = serde_json::from_str(message.body().unwrap()).unwrap();
                events.push(envelope["detail"].clone());
                self.sqs
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            if events.len() >= want {
                let since = *settled.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_secs(3) {
                    return events;
                }
            }
            if Instant::now() >= deadline {
                return events;
            }
        }
    }
}
