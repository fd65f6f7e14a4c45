//! `GET /metrics` of a running `vetted serve` (embedded, in-process), scraped before and
//! after a run of uploads and parsed with an independent Prometheus text-format parser
//! (`prometheus-parse`): the status-move counters, the gate and sanitize histograms and the
//! webhook deliveries move by exactly what the run did, and the scrape-time gauges show the
//! records in review while they wait. Also: who may scrape, and `X-Request-Id`.
//!
//! Its own test binary: the metrics recorder is one per process, so no other test's uploads
//! may run beside this one.

#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::time::Duration;

use prometheus_parse::{Scrape, Value};
use support::client::Api;
use support::server::{ServeSettings, Server};
use support::webhook::Webhook;
use support::{eventually, wait_for_status};
use vetted_samples::{hostile, images};

const TOKEN: &str = "scrape-token-0123456789abcdef0123456789";
const OWNER: &str = "owner-metrics";
const RESTAURANT: &str = "bistro-metrics";

/// Every sample of a scrape as `name{label="value",…}` → value; a histogram contributes its
/// observation count (its `+Inf` bucket) under `name{…}:count`.
type Samples = BTreeMap<String, f64>;

async fn scrape(api: &Api, base: &str) -> Samples {
    let response = api
        .http()
        .get(format!("{base}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    let parsed = Scrape::parse(text.as_bytes().lines())
        .unwrap_or_else(|e| panic!("not Prometheus text ({e}):\n{text}"));
    let mut samples = Samples::new();
    for sample in parsed.samples {
        let mut labels: Vec<String> = sample
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        labels.sort();
        let key = format!("{}{{{}}}", sample.metric, labels.join(","));
        match sample.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => {
                samples.insert(key, v);
            }
            Value::Histogram(buckets) => {
                let count = buckets
                    .iter()
                    .find(|b| b.less_than.is_infinite())
                    .map_or(0.0, |b| b.count);
                samples.insert(format!("{key}:count"), count);
            }
            Value::Summary(_) => panic!("{key} is a summary; the latencies are histograms"),
        }
    }
    samples
}

fn delta(before: &Samples, after: &Samples, key: &str) -> f64 {
    after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0)
}

fn moves(status: &str, reason: &str) -> String {
    format!("vetted_upload_transitions_total{{reason=\"{reason}\",status=\"{status}\"}}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_uploads_moves_the_scraped_counters_by_exactly_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Webhook::start().await;
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[metrics]\nbearer_token = \"{TOKEN}\"\n",
            hook.config_toml()
        ),
    )
    .unwrap();
    let server = Server::start(ServeSettings {
        config: Some(config),
        ..ServeSettings::unscanned(dir.path().join("data"))
    })
    .await;
    let base = server.base.clone();
    let api = Api::new();
    let (owner, moderator) = (
        server.token(OWNER, "owner"),
        server.token("moderator-metrics", "moderator"),
    );
    server.restaurant(RESTAURANT, &[OWNER]).await;

    // Who may scrape: the token, and nobody else.
    for authorization in [
        None,
        Some("Bearer wrong-token-0123456789abcdef0123456789"),
        Some(&format!("Basic {TOKEN}")[..]),
        Some(&format!("Bearer {TOKEN}x")[..]),
    ] {
        let mut request = api.http().get(format!("{base}/metrics"));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{authorization:?}");
        assert!(response.headers().contains_key("www-authenticate"));
    }

    let before = scrape(&api, &base).await;
    let slot = |name: &str| format!("{RESTAURANT}/{name}");
    let upload = |slot: String, name: &'static str, kind: &'static str, bytes: Vec<u8>| {
        let (api, base, owner) = (api.clone(), base.clone(), owner.clone());
        async move {
            api.upload_file(&base, &owner, &slot, name, kind, bytes, "post")
                .await
        }
    };
    let approved = [
        upload(
            slot("gallery-1"),
            "a.jpg",
            "image/jpeg",
            images::jpeg(320, 200),
        )
        .await,
        upload(
            slot("gallery-2"),
            "b.png",
            "image/png",
            images::png(200, 120),
        )
        .await,
    ];
    let declined = upload(slot("gallery-3"), "c.png", "image/png", images::png(96, 96)).await;
    // An HTML page named .png; a JPEG declared PNG.
    let not_allowed = upload(slot("gallery-4"), "d.png", "image/png", hostile::html()).await;
    let mismatch = upload(
        slot("gallery-5"),
        "e.png",
        "image/png",
        images::jpeg(120, 120),
    )
    .await;

    let wait_for = |id: String, wanted: &'static str| {
        let (api, base, owner) = (api.clone(), base.clone(), owner.clone());
        async move { wait_for_status(&api, &base, &owner, &id, wanted).await }
    };
    let rejected = wait_for(not_allowed.clone(), "REJECTED").await;
    assert_eq!(rejected["reason"], "type_not_allowed", "{rejected}");
    let rejected = wait_for(mismatch.clone(), "REJECTED").await;
    assert_eq!(rejected["reason"], "type_mismatch", "{rejected}");
    for id in approved.iter().chain([&declined]) {
        wait_for(id.clone(), "IN_REVIEW").await;
    }

    // While they wait: three in review, the oldest for some time; nothing dead-lettered.
    let waiting = scrape(&api, &base).await;
    assert_eq!(waiting["vetted_uploads{status=\"in_review\"}"], 3.0);
    assert!(waiting["vetted_review_oldest_age_seconds{}"] >= 0.0);
    for queue in ["intake", "sanitize", "review-tasks"] {
        assert_eq!(
            waiting[&format!("vetted_queue_dead_letters{{queue=\"{queue}\"}}")],
            0.0,
            "{queue}"
        );
    }

    for (id, decision, reason) in [
        (&approved[0], "approve", None),
        (&approved[1], "approve", None),
        (&declined, "decline", Some("low_quality")),
    ] {
        let answer = api
            .decide(&base, &moderator, id, decision, reason)
            .await
            .unwrap();
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
    for id in &approved {
        wait_for(id.clone(), "PUBLISHED").await;
    }
    wait_for(declined.clone(), "DECLINED").await;

    // Webhook deliveries are counted once the receiver has answered: wait until every
    // delivery the receiver got is counted, and the last outcome's event is among them.
    let after = eventually(
        Duration::from_secs(60),
        Duration::from_millis(200),
        "every webhook delivery counted",
        || async {
            let received = hook.deliveries();
            let after = scrape(&api, &base).await;
            let counted = delta(
                &before,
                &after,
                "vetted_webhook_deliveries_total{result=\"delivered\"}",
            );
            let published = received
                .iter()
                .filter(|d| d.event["type"] == "upload.published")
                .count();
            if published == 2 && counted == received.len() as f64 {
                Ok(after)
            } else {
                Err(format!(
                    "{} received ({published} published), {counted} counted",
                    received.len()
                ))
            }
        },
    )
    .await;

    let expected_moves = [
        (moves("received", "none"), 5.0),
        (moves("rejected", "type_not_allowed"), 1.0),
        (moves("rejected", "type_mismatch"), 1.0),
        (moves("in_review", "none"), 3.0),
        (moves("decided", "none"), 3.0),
        (moves("approved", "none"), 2.0),
        (moves("published", "none"), 2.0),
        (moves("declined", "none"), 1.0),
    ];
    for (key, expected) in &expected_moves {
        assert_eq!(delta(&before, &after, key), *expected, "{key}");
    }
    // No other move was counted.
    let all_moves: f64 = after
        .iter()
        .filter(|(k, _)| k.starts_with("vetted_upload_transitions_total{"))
        .map(|(k, _)| delta(&before, &after, k))
        .sum();
    assert_eq!(all_moves, 18.0);

    for (key, expected) in [
        ("vetted_gate_seconds{verdict=\"accept\"}:count", 3.0),
        ("vetted_gate_seconds{verdict=\"reject\"}:count", 2.0),
        ("vetted_sanitize_seconds{outcome=\"clean\"}:count", 3.0),
    ] {
        assert_eq!(delta(&before, &after, key), expected, "{key}");
    }
    for result in ["retry", "failed", "refused", "disabled"] {
        let key = format!("vetted_webhook_deliveries_total{{result=\"{result}\"}}");
        assert_eq!(delta(&before, &after, &key), 0.0, "{key}");
    }
    // Nothing waits any more.
    assert_eq!(after["vetted_uploads{status=\"in_review\"}"], 0.0);
    assert_eq!(after["vetted_review_oldest_age_seconds{}"], 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id_and_without_a_token_there_is_no_metrics_route() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::embedded(&dir.path().join("data")).await;
    let api = Api::new();
    let get = |path: &str, id: Option<&str>| {
        let mut request = api.http().get(format!("{}{path}", server.base));
        if let Some(id) = id {
            request = request.header("x-request-id", id);
        }
        request.send()
    };
    let kept = get("/api/policy", Some("client-ref.42:retry"))
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "client-ref.42:retry");
    // A page, an unknown path and an API error carry one too; an unsafe one is replaced.
    for (path, id) in [
        ("/", None),
        ("/no/such/page", Some("has space")),
        ("/api/uploads", None),
    ] {
        let answer = get(path, id).await.unwrap();
        let echoed = answer.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(echoed.len(), 32, "{path}: {echoed}");
    }
    let metrics = get("/metrics", None).await.unwrap();
    assert_eq!(metrics.status(), 404, "no [metrics] bearer_token, no route");
}
