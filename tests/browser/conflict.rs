//! Two moderators in two browsers with the same card: the first declines it with a reason,
//! the second, a moment later, is told that another moderator decided first, and the card
//! leaves their queue. The console also turns away an owner's token with a clear message.

use crate::harness::{Driver, Server, artifacts_dir};
use crate::steps::{
    choose_slot, current_card, owner_signs_in_by_link, pick_file, wait_card_gone, wait_for_card,
    wait_for_row, wait_for_slots, wait_for_status,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_of_two_moderators_is_told_that_another_decided_first() {
    let artifacts = artifacts_dir("two-moderators");
    let server = Server::start(false).await;
    server
        .create_restaurant("bistro-nord", "Bistro Nord", &["nils"])
        .await;
    let driver = Driver::start(&artifacts);
    let owner_token = server.token("nils", "owner");
    let first_token = server.token("mod-first", "moderator");
    let second_token = server.token("mod-second", "moderator");
    let files = tempfile::tempdir().unwrap();

    let owner = driver.open("owner", &artifacts).await;
    owner_signs_in_by_link(&owner, &format!("{}/#token={owner_token}", server.base)).await;
    wait_for_slots(&owner).await;
    choose_slot(&owner, "gallery-2").await;
    let jpeg = files.path().join("terrace.jpg");
    std::fs::write(&jpeg, vetted_samples::images::jpeg(800, 600)).unwrap();
    pick_file(&owner, &jpeg).await;
    let upload_id = wait_for_row(&owner, "terrace.jpg").await;
    wait_for_status(&owner, &upload_id, "IN_REVIEW").await;

    // An owner's token on the console: refused, with what it is and where it belongs.
    let first = driver.open("first-moderator", &artifacts).await;
    first
        .goto(&format!("{}/moderate#token={owner_token}", server.base))
        .await;
    let message = first
        .wait_text("#signin-message", "not a moderator's")
        .await;
    assert!(message.contains("owner's"), "{message:?}");
    first.screenshot("01-console-owner-token-refused.png").await;

    first
        .goto(&format!("{}/moderate#token={first_token}", server.base))
        .await;
    let second = driver.open("second-moderator", &artifacts).await;
    second
        .goto(&format!("{}/moderate#token={second_token}", server.base))
        .await;
    for moderator in [&first, &second] {
        wait_for_card(moderator, &upload_id).await;
        assert_eq!(current_card(moderator).await.as_deref(), Some(&*upload_id));
    }

    // The first declines: D opens the reasons, 2 picks "low quality".
    first.press('d').await;
    first
        .wait_displayed(&format!(
            ".review-card[data-upload-id='{upload_id}'] .decline-panel"
        ))
        .await;
    first.screenshot("02-first-picks-a-reason.png").await;
    first.press('2').await;
    first.wait_text(".toast", "Declined (low quality)").await;
    wait_card_gone(&first, &upload_id).await;

    // The second still has the card on screen and approves it: too late.
    second.press('a').await;
    let banner = second
        .wait_text(
            ".banner[data-reason='already_decided']",
            "Another moderator decided first",
        )
        .await;
    assert!(banner.contains("terrace.jpg"), "{banner:?}");
    wait_card_gone(&second, &upload_id).await;
    second
        .screenshot("03-second-told-another-decided-first.png")
        .await;

    // The owner's page shows the moderator's verdict and its reason.
    let row = wait_for_status(&owner, &upload_id, "DECLINED").await;
    assert!(row.contains("low quality"), "{row:?}");
    owner.screenshot("04-owner-declined.png").await;

    for page in [owner, first, second] {
        page.close().await;
    }
}
