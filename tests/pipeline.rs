//! End to end on the embedded backend, through `vetted serve` (started in-process) and only
//! its public surfaces: the API, the upload endpoint, webhooks and the data directory.
//!
//! An owner uploads a JPEG carrying GPS EXIF and a PNG with a web page after IEND (both
//! approved), a plain PNG by presigned PUT (declined), and an HTML page named .png (refused by
//! the gate). The published copies are fetched through the endpoint with a presigned GET
//! signed with the data directory's keys, as a CDN in front of it would, and must be
//! re-encoded: no EXIF, no GPS, no HTML. The declined upload leaves no copy. Every event a
//! webhook received is signed, matches its schema, and each status change sent exactly one.

// clippy.toml allows unwrap in #[test] functions; the helpers here are test code too.
#![allow(clippy::unwrap_used)]

mod support;

#[path = "pipeline/email.rs"]
mod email;
#[path = "pipeline/scan.rs"]
mod scan;
#[path = "pipeline/slow_clients.rs"]
mod slow_clients;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use support::client::Api;
use support::events::{EventSchemas, expected_types, types_of};
use support::server::{ServeSettings, Server};
use support::webhook::Webhook;
use support::{contains, db, eventually, has_jpeg_segment, wait_for_status};
use vetted_aws::presign::S3Presigner;
use vetted_core::ports::{ObjectStore, StoreError, UploadSigner};
use vetted_core::presign::{BucketEndpoint, S3Target};
use vetted_core::{Clock, ObjectKey, SlotRef, SystemClock, UploadId};
use vetted_embedded::fs_store::FsObjectStore;
use vetted_samples::{hostile, images};

const PATIENCE: Duration = Duration::from_secs(60);
const OWNER: &str = "owner-e2e";
const RESTAURANT: &str = "bistro-e2e";
/// What marks EXIF in a JPEG: the APP1 header, the TIFF structure (little-endian, as the
/// sample writes it), and IFD0's entry pointing to the GPS block (tag 0x8825, type LONG).
const EXIF: &[u8] = b"Exif\0\0";
const TIFF_LE: &[u8] = b"II*\0";
const GPS_POINTER: &[u8] = &[0x25, 0x88, 0x04, 0x00];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_decline_and_reject_end_to_end_with_every_event_checked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let hook = Webhook::start().await;
    let config = dir.path().join("serve.toml");
    std::fs::write(&config, hook.config_toml()).unwrap();
    let server = Server::start(ServeSettings {
        config: Some(config),
        ..ServeSettings::unscanned(&data)
    })
    .await;
    let base = server.base.clone();
    let (owner, moderator) = (
        server.token(OWNER, "owner"),
        server.token("moderator-e2e", "moderator"),
    );
    let api = Api::new();
    server.restaurant(RESTAURANT, &[OWNER]).await;
    let slot = |name: &str| format!("{RESTAURANT}/{name}");

    let gps_jpeg = images::jpeg_with_gps(320, 200, 48.8584, 2.2945);
    for marker in [EXIF, TIFF_LE, GPS_POINTER] {
        assert!(contains(&gps_jpeg, marker), "the sample lacks {marker:?}");
    }
    let polyglot = hostile::png_with_html_after_iend(200, 120);
    assert!(contains(&polyglot, b"<script"));
    let jpeg = api
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
    let png = api
        .upload_file(
            &base,
            &owner,
            &slot("gallery-2"),
            "logo.png",
            "image/png",
            polyglot,
            "post",
        )
        .await;
    let declined = api
        .upload_file(
            &base,
            &owner,
            &slot("gallery-3"),
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
            &slot("gallery-4"),
            "index.png",
            "image/png",
            hostile::html(),
            "post",
        )
        .await;

    let wait_for = |id: &str, wanted: &'static str| {
        let (api, base, owner, id) = (api.clone(), base.clone(), owner.clone(), id.to_owned());
        async move { wait_for_status(&api, &base, &owner, &id, wanted).await }
    };

    let rejected = wait_for(&spoofed, "REJECTED").await;
    assert_eq!(rejected["reason"], "type_not_allowed", "{rejected}");
    for id in [&jpeg, &png, &declined] {
        let in_review = wait_for(id, "IN_REVIEW").await;
        assert!(in_review.get("reason").is_none(), "{in_review}");
    }

    // The moderator sees all three, each with a preview that the endpoint serves.
    let queue = api.reviews(&base, &moderator, None).await.unwrap();
    assert_eq!(queue.status, 200, "{:?}", queue.body);
    for id in [&jpeg, &png, &declined] {
        let item = queue.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["upload_id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} is not in the review queue: {}", queue.body));
        let preview = api
            .http()
            .get(item["preview_url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(preview.status(), 200, "preview of {id}");
        assert_eq!(preview.headers()["content-type"], "image/webp");
    }

    for (id, decision, reason) in [
        (&jpeg, "approve", None),
        (&png, "approve", None),
        (&declined, "decline", Some("low_quality")),
    ] {
        let answer = api
            .decide(&base, &moderator, id, decision, reason)
            .await
            .unwrap();
        assert_eq!(answer.status, 200, "deciding {id}: {:?}", answer.body);
        assert_eq!(answer.body["status"], "DECIDED");
        assert_eq!(answer.body["delivered"], true);
    }
    let published_jpeg = wait_for(&jpeg, "PUBLISHED").await;
    wait_for(&png, "PUBLISHED").await;
    let gone = wait_for(&declined, "DECLINED").await;
    assert_eq!(gone["decision"], "decline", "{gone}");
    assert_eq!(gone["decline_reason"], "low_quality", "{gone}");

    // Published copies, through the endpoint, re-encoded.
    let bytes = fetch_published(&api, &server, &slot("gallery-1"), &jpeg, "image/jpeg").await;
    assert!(bytes.starts_with(&[0xFF, 0xD8]), "not a JPEG");
    for marker in [EXIF, TIFF_LE, GPS_POINTER] {
        assert!(
            !contains(&bytes, marker),
            "the published JPEG kept {marker:?}"
        );
    }
    assert!(
        !has_jpeg_segment(&bytes, 0xE1),
        "the published JPEG kept an APP1 segment"
    );
    let decoded = image::load_from_memory(&bytes).expect("the published JPEG decodes");
    assert_eq!((decoded.width(), decoded.height()), (320, 200));
    assert_eq!(published_jpeg["width"], 320);

    let bytes = fetch_published(&api, &server, &slot("gallery-2"), &png, "image/png").await;
    for marker in [&b"<html"[..], b"<script", b"<!DOCTYPE", b"</"] {
        assert!(!contains(&bytes, marker), "the published PNG kept the page");
    }
    assert!(
        bytes.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]),
        "the published PNG has bytes after IEND"
    );
    let decoded = image::load_from_memory(&bytes).expect("the published PNG decodes");
    assert_eq!((decoded.width(), decoded.height()), (200, 120));

    // The declined upload left nothing behind, and nothing was published for it.
    let store = FsObjectStore::new(data.join("objects")).unwrap();
    let id = UploadId::parse(&declined).unwrap();
    let target: SlotRef = slot("gallery-3").parse().unwrap();
    for key in [
        ObjectKey::incoming(&target, &id),
        ObjectKey::sanitized(&id),
        ObjectKey::preview(&id),
        ObjectKey::published(&target, &id),
    ] {
        match store.head(&key).await {
            Err(StoreError::NotFound(_)) => {}
            other => panic!("{key} of the declined upload: expected gone, found {other:?}"),
        }
    }

    // Events: every status change exactly once, signed, valid, in order per upload.
    let expected: BTreeMap<&str, &str> = [
        (jpeg.as_str(), "PUBLISHED"),
        (png.as_str(), "PUBLISHED"),
        (declined.as_str(), "DECLINED"),
        (spoofed.as_str(), "REJECTED"),
    ]
    .into();
    let total: usize = expected.values().map(|s| expected_types(s).len()).sum();
    let deliveries = eventually(
        PATIENCE,
        Duration::from_millis(200),
        "webhook deliveries",
        || {
            let hook = hook.clone();
            async move {
                let got = hook.deliveries();
                if got.len() >= total {
                    Ok(got)
                } else {
                    Err(format!("expected {total} deliveries, found {}", got.len()))
                }
            }
        },
    )
    .await;
    let events: Vec<Value> = deliveries.iter().map(|d| d.event.clone()).collect();
    EventSchemas::load().assert_all_valid(&events);
    for delivery in &deliveries {
        assert!(delivery.signed, "bad signature on {}", delivery.event);
        assert_eq!(delivery.id_header, delivery.event["id"].as_str().unwrap());
        if delivery.event["type"] != "slot.changed" {
            assert_eq!(delivery.event["owner"], OWNER);
        }
        assert_eq!(delivery.event["restaurant"], RESTAURANT);
    }
    let conn = db::open(&data);
    let outbox = db::outbox(&conn);
    for (id, status) in &expected {
        let want: Vec<String> = expected_types(status)
            .iter()
            .map(|t| t.to_string())
            .collect();
        assert_eq!(
            types_of(&events, id),
            want,
            "webhook events of {id} ({status})"
        );
        let stored: Vec<String> = outbox
            .iter()
            .filter(|(upload, ..)| upload == id)
            .map(|(_, _, event_type, _)| event_type.clone())
            .collect();
        assert_eq!(stored, want, "outbox events of {id} ({status})");
    }
    assert_eq!(
        deliveries.len(),
        total,
        "a delivery was repeated: {events:#?}"
    );
    let rejected_event = events
        .iter()
        .find(|e| e["type"] == "upload.rejected")
        .unwrap();
    assert_eq!(rejected_event["reason"], "type_not_allowed");
    let declined_event = events
        .iter()
        .find(|e| e["type"] == "review.declined")
        .unwrap();
    assert_eq!(declined_event["decline_reason"], "low_quality");
    // Decisions name the moderator who made them; nothing else does.
    assert_eq!(declined_event["moderator"], "moderator-e2e");
    for event in &events {
        let decision = matches!(
            event["type"].as_str(),
            Some("review.approved" | "review.declined")
        );
        assert_eq!(
            event.get("moderator").is_some(),
            decision,
            "moderator on {event}"
        );
    }
    assert!(db::integrity_problems(&conn).is_empty());
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_replaces_a_logo_and_a_moderator_rolls_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::embedded(&data).await;
    let walk = support::logo_walk::replace_and_roll_back(&server).await;
    let conn = db::open(&data);
    let events: Vec<Value> = db::outbox(&conn)
        .into_iter()
        .map(|(_, _, _, body)| serde_json::from_str(&body).unwrap())
        .collect();
    support::logo_walk::check_events(&walk, &events);
    drop(server);
}

/// A body whose SHA-256 is not the one pinned at the request is refused by the embedded
/// endpoint (POST, PUT) and the proxy, and the upload waits for the right one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_other_than_the_pinned_sha256_is_refused_and_the_right_one_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::embedded(&dir.path().join("data")).await;
    support::checksum_walk::pinned_checksums(&server).await;
    drop(server);
}

/// Issue 16, item 3: identical bytes reuse their decision, and a banned hash is refused, on
/// the embedded backend (`tests/support/dedup_walk.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_bytes_reuse_their_decision_and_a_banned_hash_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.toml");
    std::fs::write(&config, support::dedup_walk::CONFIG).unwrap();
    let server = Server::start(ServeSettings {
        config: Some(config),
        ..ServeSettings::unscanned(dir.path().join("data"))
    })
    .await;
    support::dedup_walk::reuse_and_ban(&server).await;
    drop(server);
}

/// Issue 16, item 2: a 30 MiB multipart upload cut off after two parts resumes from the parts
/// the embedded endpoint lists, completes, and goes to review (`tests/support/multipart_walk.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_30_mib_multipart_upload_interrupted_after_two_parts_resumes_and_completes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.toml");
    std::fs::write(&config, support::multipart_walk::CONFIG).unwrap();
    let server = Server::start(ServeSettings {
        config: Some(config),
        ..ServeSettings::unscanned(dir.path().join("data"))
    })
    .await;
    support::multipart_walk::interrupted_and_resumed(&server).await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_registered_through_the_admin_api_gets_the_events_it_asked_for_signed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let hook = Webhook::start().await;
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        "[webhook_delivery]\nallow_private_addresses_for_development = true\n",
    )
    .unwrap();
    let server = Server::start(ServeSettings {
        config: Some(config),
        ..ServeSettings::unscanned(&data)
    })
    .await;
    let created = server
        .admin_post(
            "/api/webhooks",
            serde_json::json!({"url": hook.url, "event_types": ["slot.changed"]}),
        )
        .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let walk = support::logo_walk::replace_and_roll_back(&server).await;
    let conn = db::open(&data);
    let changed: Vec<Value> = db::outbox(&conn)
        .into_iter()
        .map(|(_, _, _, body)| serde_json::from_str::<Value>(&body).unwrap())
        .filter(|event| event["type"] == "slot.changed")
        .collect();
    assert!(
        changed.len() >= 2,
        "the walk publishes and rolls back: {changed:#?}"
    );
    let deliveries = eventually(
        PATIENCE,
        Duration::from_millis(100),
        "slot.changed deliveries",
        || {
            let (hook, want) = (hook.clone(), changed.len());
            async move {
                let got = hook.deliveries();
                if got.len() >= want {
                    Ok(got)
                } else {
                    Err(format!("{} of {want}", got.len()))
                }
            }
        },
    )
    .await;
    let ids: Vec<&str> = deliveries.iter().map(|d| d.id_header.as_str()).collect();
    let want: Vec<&str> = changed.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, want, "only slot.changed, each once, in order");
    for delivery in &deliveries {
        assert!(delivery.verifies_with(&secret), "{}", delivery.event);
        assert!(
            !delivery.signed,
            "the receiver's own secret is not this endpoint's"
        );
    }
    drop(walk);
    drop(server);
}

/// `published/{restaurant}/{slot}/{id}` through the upload endpoint, with a presigned GET
/// signed with the keys in the data directory; checks the fixed content type and `nosniff`.
async fn fetch_published(
    api: &Api,
    server: &Server,
    slot: &str,
    id: &str,
    content_type: &str,
) -> Vec<u8> {
    let keys: Value = serde_json::from_str(
        &std::fs::read_to_string(server.data.join("s3-credentials.json")).unwrap(),
    )
    .unwrap();
    let target = S3Target::new(
        "vetted-uploads",
        "us-east-1",
        BucketEndpoint::choose(false, Some(&format!("{}/s3", server.base))).unwrap(),
    )
    .unwrap();
    let signer = S3Presigner::with_static_credentials(
        target,
        keys["access_key_id"].as_str().unwrap(),
        keys["secret_access_key"].as_str().unwrap(),
    );
    let key = ObjectKey::published(&slot.parse().unwrap(), &UploadId::parse(id).unwrap());
    let url = signer
        .presign_get(&key, SystemClock.now(), Duration::from_secs(300))
        .await
        .unwrap();
    let response = api.http().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {key}");
    assert_eq!(response.headers()["content-type"], content_type, "{key}");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    response.bytes().await.unwrap().to_vec()
}
