//! A large upload through a slow connection: the owner page shows a progress bar that moves
//! with the bytes sent, then the upload in the list. The connection is slowed by a loopback
//! proxy (see `throttle`), so the bar is there long enough to be seen, whatever the machine.

use serde_json::Value;

use crate::harness::{Driver, Server, artifacts_dir};
use crate::steps::{
    choose_slot, owner_signs_in_by_link, pick_file, wait_for_row, wait_for_slots, wait_for_status,
};
use crate::support::server::ServeSettings;
use crate::throttle::Throttle;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upload_shows_its_progress_then_its_status() {
    let artifacts = artifacts_dir("progress");
    let mut throttle = Throttle::bind().await;
    let server = Server::start_with(|settings| ServeSettings {
        public_url: Some(throttle.base.clone()),
        ..settings
    })
    .await;
    throttle.forward_to(server.addr);
    assert_eq!(server.base, throttle.base);
    server
        .create_restaurant("cafe-sud", "Café Sud", &["sofia"])
        .await;
    let driver = Driver::start(&artifacts);
    let token = server.token("sofia", "owner");

    let files = tempfile::tempdir().unwrap();
    let photo = files.path().join("dining-room.jpg");
    let bytes = vetted_samples::images::grainy_jpeg(3000, 2000);
    // Chromium counts bytes as sent once the kernel takes them, and a loopback socket's send
    // buffer takes up to 4 MiB at once: only a larger file shows the bar part way.
    assert!(
        bytes.len() > 8 << 20,
        "the photo is only {} bytes",
        bytes.len()
    );
    std::fs::write(&photo, &bytes).unwrap();

    let owner = driver.open("owner", &artifacts).await;
    owner_signs_in_by_link(&owner, &format!("{}/#token={token}", server.base)).await;
    assert_eq!(wait_for_slots(&owner).await, "Café Sud");
    choose_slot(&owner, "gallery-1").await;
    pick_file(&owner, &photo).await;
    let percent = owner
        .wait_for("the progress bar part way", async || {
            let value = owner
                .js(
                    "const bar = document.querySelector('.transfer progress');
                     return bar ? bar.value : null;",
                    vec![],
                )
                .await;
            eprintln!("progress: {value}");
            value.as_f64().filter(|v| *v > 0.0 && *v < 100.0)
        })
        .await;
    let status = owner.text(".transfer .transfer-status").await.unwrap();
    assert!(
        status.contains('%') && status.contains(" of "),
        "{status:?}"
    );
    owner.screenshot("01-owner-sending.png").await;

    let upload_id = wait_for_row(&owner, "dining-room.jpg").await;
    let row = wait_for_status(&owner, &upload_id, "IN_REVIEW").await;
    assert!(row.contains("3000 × 2000"), "{row:?}");
    assert_eq!(
        owner.count(".transfer").await,
        0,
        "the finished transfer stayed"
    );
    let bar_gone = owner
        .js(
            "return document.querySelector('progress') === null;",
            vec![],
        )
        .await;
    assert_eq!(bar_gone, Value::Bool(true));
    owner.screenshot("02-owner-in-review.png").await;
    println!("the bar was seen at {percent}%");
    owner.close().await;
}
