//! Crash safety of `vetted serve`, the real binary: under load it is killed with SIGKILL four
//! times, at different phases, and restarted on the same data directory each time; then every
//! upload the endpoint accepted must reach its right state, none lost, none decided or
//! published twice, and the database must be sound.
//!
//! The load: owners uploading real and refused files through the presigned POST (and PUT)
//! the API returns, several at once; moderators approving and declining through the API in
//! bursts, two of them racing on some uploads. The kills: while uploads are being taken in,
//! while images are being sanitized, right after a burst of decisions, and while approved
//! images are being published. Each moment is picked at random from a printed seed
//! (`VETTED_CRASH_SEED=N` replays the choices) and recorded with what was in flight.
//!
//! After the last restart the maintenance loop must find what the kills left half done
//! (stored uploads whose notification was lost, decisions not yet delivered), so the test
//! waits for it (it runs every 30 s) before checking.
//!
//! A webhook endpoint (from the settings file) receives every event, signed, through a real
//! HTTP receiver in the test that refuses each event's first attempt with 503: so every
//! delivery waits for a retry, and each kill finds events between the outbox and their
//! delivery. Every event the outbox holds at the end must have reached the receiver.

// clippy.toml allows unwrap in #[test] functions; the helpers here are test code too.
#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod checks;
mod files;
mod jobs;
mod load;
mod moderate;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jobs::Rng;
use load::Run;
use moderate::Ledger;
use support::client::Api;
use support::db;
use support::process::{Server, token};
use support::webhook::Webhook;
// Three owners send 240 uploads as fast as eight clients can: not what the per-user limits
// are for.
use vetted_app::bench::UNLIMITED_UPLOADS;

const JOBS: usize = 240;
const CLIENTS: usize = 8;
const OWNERS: [&str; 3] = ["owner-a", "owner-b", "owner-c"];
/// How long each phase may take to come about before the kill goes ahead anyway.
const PHASE_LIMIT: Duration = Duration::from_secs(40);
/// How long the last server may take to settle: two maintenance rounds (30 s apart) and the
/// redeliveries they cause, with room for a slow, loaded machine.
const SETTLE_LIMIT: Duration = Duration::from_secs(150);

/// What was going on at one kill.
#[derive(Debug)]
struct Kill {
    phase: &'static str,
    /// Whether the phase's condition was seen before the kill (else the limit ran out).
    seen: bool,
    delay_ms: u64,
    accepted: usize,
    in_flight: [i64; 3],
    by_status: Vec<(String, i64)>,
    /// Events not yet handed on by the outbox, and webhook deliveries not yet made.
    undelivered: (i64, i64),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_nothing_and_does_nothing_twice() {
    let started = Instant::now();
    let (mut rng, seed) = Rng::from_env_or_clock();
    println!("crash test seed {seed} (VETTED_CRASH_SEED={seed} replays its choices)");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut owners = Vec::new();
    for owner in OWNERS {
        owners.push((owner.to_owned(), token(&data, owner, "owner").await));
    }
    let moderators = [
        (
            "moderator-a".to_owned(),
            token(&data, "moderator-a", "moderator").await,
        ),
        (
            "moderator-b".to_owned(),
            token(&data, "moderator-b", "moderator").await,
        ),
    ];
    let hook = Webhook::start_refusing_first_attempts().await;
    let config = dir.path().join("vetted.toml");
    std::fs::write(&config, settings_file(&hook)).unwrap();
    let args = ["--config", config.to_str().unwrap()];
    let mut server = Server::spawn_with_env(&data, &args, &UNLIMITED_UPLOADS).await;
    let admin = token(&data, "crash-admin", "admin").await;
    for owner in OWNERS {
        create_restaurant(&server.base, &admin, owner).await;
    }
    let jobs = jobs::make(JOBS, OWNERS.len(), &mut rng);
    let run = Arc::new(Run::new(
        Api::new(),
        server.base.clone(),
        jobs,
        owners,
        moderators,
    ));
    let ledger = Arc::new(Ledger::default());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(load::client(run.clone())))
        .collect();
    let ticker = tokio::spawn(moderate_continuously(run.clone(), ledger.clone()));
    let mut kills = Vec::new();

    // 1. While uploads are being taken in.
    run.allow(70);
    let target = 20 + rng.below(30);
    let seen = phase(|| {
        run.accepted_count() >= target && in_flight(&data)[0] + status_count(&data, "RECEIVED") > 0
    })
    .await;
    kills.push(
        kill(
            &mut server,
            &run,
            &data,
            "uploads",
            seen,
            rng.below(50) as u64,
        )
        .await,
    );

    // 2. While images are being sanitized.
    restart(&mut server, &run, &data, &args).await;
    run.allow(140);
    let seen = phase(|| run.accepted_count() >= 90 && in_flight(&data)[1] > 0).await;
    kills.push(
        kill(
            &mut server,
            &run,
            &data,
            "sanitize",
            seen,
            rng.below(30) as u64,
        )
        .await,
    );

    // 3. Right after a burst of decisions.
    restart(&mut server, &run, &data, &args).await;
    run.allow(200);
    let seen = phase(|| run.accepted_count() >= 160).await;
    let sent = moderate::burst(&run, &ledger).await;
    kills.push(
        kill(
            &mut server,
            &run,
            &data,
            "decisions",
            seen && sent > 0,
            rng.below(40) as u64,
        )
        .await,
    );

    // 4. While approved images are being published and declined ones removed.
    restart(&mut server, &run, &data, &args).await;
    run.allow(JOBS);
    phase(|| run.accepted_count() >= JOBS - 10).await;
    moderate::burst(&run, &ledger).await;
    let seen = phase(|| status_count(&data, "DECIDED") + status_count(&data, "APPROVED") > 0).await;
    kills.push(
        kill(
            &mut server,
            &run,
            &data,
            "publish",
            seen,
            rng.below(20) as u64,
        )
        .await,
    );

    // The last start: finish the load, decide what is waiting, resend what died, settle.
    restart(&mut server, &run, &data, &args).await;
    for client in clients {
        let finished = tokio::time::timeout(PHASE_LIMIT, client).await;
        propagate(finished.expect("the clients finish their uploads after the last restart"));
    }
    run.stop();
    propagate(ticker.await);
    // Decide what reached review in the meantime, once the uploads in hand are through intake.
    phase(|| accepted_still_in_intake(&run, &data) == 0).await;
    moderate::burst(&run, &ledger).await;
    ledger.settle().await;
    let resent = moderate::resend_lost(&run, &ledger).await;
    let settle_started = Instant::now();
    let mut problems = checks::unsettled(&run, &ledger, &data);
    while !problems.is_empty() && settle_started.elapsed() < SETTLE_LIMIT {
        tokio::time::sleep(Duration::from_millis(500)).await;
        problems = checks::unsettled(&run, &ledger, &data);
    }
    let settle_took = settle_started.elapsed();
    if problems.is_empty() {
        problems = checks::verify(&run, &ledger, &data, &hook).await;
    } else {
        let stuck = checks::diagnose(&data, &problems);
        problems.insert(
            0,
            format!("not settled {SETTLE_LIMIT:?} after the last restart:"),
        );
        problems.push(stuck);
    }
    report(
        &run,
        &ledger,
        &data,
        &kills,
        resent,
        settle_took,
        started.elapsed(),
    );
    println!(
        "webhooks: {} deliveries received, {} first attempts refused",
        hook.deliveries().len(),
        hook.refused_count()
    );
    if !problems.is_empty() {
        let kept = dir.keep();
        panic!(
            "{} problems after {} kills (seed {seed}; data kept in {}):\n{}\n\nlast server's log:\n{}",
            problems.len(),
            kills.len(),
            kept.display(),
            problems.join("\n"),
            server.log_tail()
        );
    }
    assert_eq!(
        run.accepted_count(),
        JOBS,
        "every job is accepted in the end"
    );
}

/// Decides what is waiting, every 700 ms, until the load stops.
async fn moderate_continuously(run: Arc<Run>, ledger: Arc<Ledger>) {
    while !run.stopped() {
        moderate::burst(&run, &ledger).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
}

/// Waits until `condition` holds (polling every 10 ms), for at most [`PHASE_LIMIT`].
async fn phase(mut condition: impl FnMut() -> bool) -> bool {
    let limit = Instant::now() + PHASE_LIMIT;
    while Instant::now() < limit {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

async fn kill(
    server: &mut Server,
    run: &Run,
    data: &Path,
    phase: &'static str,
    seen: bool,
    delay_ms: u64,
) -> Kill {
    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    let in_flight = in_flight(data);
    let conn = db::open(data);
    let undelivered = db::undelivered(&conn);
    let by_status = conn
        .prepare("SELECT status, COUNT(*) FROM uploads GROUP BY status ORDER BY status")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    server.kill().await;
    Kill {
        phase,
        seen,
        delay_ms,
        accepted: run.accepted_count(),
        in_flight,
        by_status,
        undelivered,
    }
}

async fn restart(server: &mut Server, run: &Run, data: &Path, args: &[&str]) {
    *server = Server::spawn_with_env(data, args, &UNLIMITED_UPLOADS).await;
    run.set_base(&server.base);
}

/// `vetted serve --config`: the receiver as an endpoint, reachable on loopback, with short
/// retry waits so that the refused first attempts are retried within the test.
fn settings_file(hook: &Webhook) -> String {
    format!(
        "[webhook_delivery]\nallow_private_addresses_for_development = true\n\
         retry_delays_seconds = [1, 2, 2, 2, 2, 2, 2, 2, 2]\n\n\
         [[webhooks]]\nurl = \"{}\"\nsecret = \"{}\"\n",
        hook.url, hook.secret
    )
}

/// Messages received and not yet acknowledged: intake, sanitize, review tasks.
fn in_flight(data: &Path) -> [i64; 3] {
    let conn = db::open(data);
    let now = db::now_ms();
    ["intake", "sanitize", "review-tasks"].map(|queue| db::in_flight(&conn, queue, now))
}

/// Accepted uploads not yet through intake (still `AWAITING_UPLOAD` or `RECEIVED`).
fn accepted_still_in_intake(run: &Run, data: &Path) -> usize {
    let conn = db::open(data);
    load::lock(&run.accepted)
        .values()
        .filter(|id| {
            db::upload(&conn, id)
                .is_none_or(|row| row.status == "AWAITING_UPLOAD" || row.status == "RECEIVED")
        })
        .count()
}

fn status_count(data: &Path, status: &str) -> i64 {
    db::open(data)
        .query_row(
            "SELECT COUNT(*) FROM uploads WHERE status = ?1",
            [status],
            |r| r.get(0),
        )
        .unwrap()
}

fn propagate(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined
        && error.is_panic()
    {
        std::panic::resume_unwind(error.into_panic());
    }
}

fn report(
    run: &Run,
    ledger: &Ledger,
    data: &Path,
    kills: &[Kill],
    resent: usize,
    settle_took: Duration,
    total: Duration,
) {
    println!("kills:");
    for (n, k) in kills.iter().enumerate() {
        println!(
            "  {}. during {:<9} (phase seen: {}) +{} ms: {} accepted; in flight intake/sanitize/review {:?}; records {:?}; events in the outbox / deliveries pending {:?}",
            n + 1,
            k.phase,
            k.seen,
            k.delay_ms,
            k.accepted,
            k.in_flight,
            k.by_status,
            k.undelivered
        );
    }
    let attempts = ledger.attempts();
    let lost = attempts
        .values()
        .flatten()
        .filter(|a| a.outcome == moderate::Outcome::Lost)
        .count();
    let rows = db::uploads(&db::open(data));
    println!(
        "uploads: {} jobs, {} accepted, {} records ({} granted), {} requests lost to kills, {} re-uploads",
        run.jobs.len(),
        run.accepted_count(),
        rows.len(),
        load::lock(&run.granted).len(),
        run.lost_requests.load(std::sync::atomic::Ordering::Relaxed),
        run.reuploads.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!(
        "decisions: {} uploads decided on, {} requests lost to kills, {resent} sent again",
        attempts.len(),
        lost
    );
    let mut by_status = std::collections::BTreeMap::<&str, usize>::new();
    for row in &rows {
        *by_status.entry(row.status.as_str()).or_default() += 1;
    }
    println!("final records by status: {by_status:?}");
    println!("settled {settle_took:?} after the last restart; whole test {total:?}");
}

/// The slot an owner's uploads go to: the first gallery position of a restaurant of their own,
/// whose policy (64 px and up, 1:4 to 4:1) is the one the catalogue's verdicts assume.
pub fn owner_slot(owner: &str) -> String {
    format!("crash-{owner}/gallery-1")
}

/// Creates the owner's restaurant through the admin API.
async fn create_restaurant(base: &str, admin: &str, owner: &str) {
    let restaurant = owner_slot(owner)
        .split_once('/')
        .map(|(restaurant, _)| restaurant.to_owned())
        .unwrap();
    let response = Api::new()
        .http()
        .post(format!("{base}/api/restaurants"))
        .bearer_auth(admin)
        .json(&serde_json::json!({"id": restaurant, "name": restaurant, "owners": [owner]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "creating {restaurant}");
}
