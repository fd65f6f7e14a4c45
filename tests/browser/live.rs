//! Live status without polling: with the owner page open, an upload moves through intake and
//! review and a moderator approves it through the API; each change appears in the page as it
//! happens, with no reload, carried by the server-sent event stream, and the page sends no
//! polling request. Two witnesses: the page's own counters (`window.vettedLive`), and the
//! browser's record of every request it made (Resource Timing), where each read of the list
//! after the stream is up must be one the stream caused.

use serde_json::{Value, json};
use vetted_samples::images;

use crate::harness::{Driver, Server, artifacts_dir};
use crate::page::Page;
use crate::steps::{
    choose_slot, owner_signs_in_by_link, pick_file, wait_for_row, wait_for_slots, wait_for_status,
};

/// The page's live counters, and how many list reads (`GET /api/uploads?limit=…`) the browser
/// made; the `marker` set at the start survives only if the page was never reloaded.
const OBSERVE: &str = "
    const lists = performance.getEntriesByType('resource')
        .filter((e) => new URL(e.name).pathname === '/api/uploads'
            && new URL(e.name).searchParams.has('limit')
            && !new URL(e.name).searchParams.has('after'));
    return { live: window.vettedLive, lists: lists.length, marker: window.liveTestMarker || null };
";

async fn observe(page: &Page) -> Value {
    page.js(OBSERVE, vec![]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_change_appears_without_reload_or_polling() {
    let artifacts = artifacts_dir("live");
    let server = Server::start(false).await;
    server
        .create_restaurant("bistro-nord", "Bistro Nord", &["nora"])
        .await;
    let driver = Driver::start(&artifacts);
    let owner_token = server.token("nora", "owner");
    let moderator_token = server.token("mod-max", "moderator");
    let files = tempfile::tempdir().unwrap();

    let owner = driver.open("owner", &artifacts).await;
    // Room for every request of the test in the browser's record (the default is 250).
    owner_signs_in_by_link(&owner, &format!("{}/#token={owner_token}", server.base)).await;
    owner
        .js(
            "performance.setResourceTimingBufferSize(10000); window.liveTestMarker = 'same page';",
            vec![],
        )
        .await;
    assert_eq!(wait_for_slots(&owner).await, "Bistro Nord");
    owner
        .wait_for("the event stream to be up", async || {
            let seen = observe(&owner).await;
            (seen["live"]["mode"] == "stream").then_some(())
        })
        .await;
    let before = observe(&owner).await;
    eprintln!("before: {before}");

    // An upload from the page: intake and sanitize move it to IN_REVIEW on their own.
    choose_slot(&owner, "cover").await;
    let png = files.path().join("front-door.png");
    std::fs::write(&png, images::png(1600, 900)).unwrap();
    pick_file(&owner, &png).await;
    let upload = wait_for_row(&owner, "front-door.png").await;
    wait_for_status(&owner, &upload, "IN_REVIEW").await;
    owner.screenshot("01-in-review.png").await;

    // A moderator approves through the API; the page is not touched.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let approved = reqwest::Client::new()
        .post(format!("{}/api/reviews/{upload}/decision", server.base))
        .bearer_auth(&moderator_token)
        .json(&json!({"decision": "approve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200, "approving {upload}");
    wait_for_status(&owner, &upload, "PUBLISHED").await;
    owner.screenshot("02-published.png").await;

    let after = observe(&owner).await;
    eprintln!("after: {after}");
    assert_eq!(after["marker"], "same page", "the page was reloaded");
    assert_eq!(after["live"]["mode"], "stream");
    assert_eq!(after["live"]["polls"], 0, "the page polled: {after}");
    // Not even set to poll later: whatever the timing, no poll could have been sent.
    assert_eq!(
        after["live"]["pollsArmed"], 0,
        "a poll timer was set: {after}"
    );
    assert!(
        after["live"]["events"].as_u64().unwrap() >= 3,
        "received, in review, approved, published came as events: {after}"
    );
    // Every read of the list since the stream was up is one a stream event asked for (the
    // upload itself asks for one when its file is sent).
    let reads = after["lists"].as_u64().unwrap() - before["lists"].as_u64().unwrap();
    let caused = after["live"]["streamReloads"].as_u64().unwrap()
        - before["live"]["streamReloads"].as_u64().unwrap();
    assert!(
        reads <= caused + 1,
        "{reads} list reads, only {caused} asked for by the stream: {before} → {after}"
    );
    owner.close().await;
}
