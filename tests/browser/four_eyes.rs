//! Four-eyes review in a real browser: on a server whose gallery needs two approvals, one
//! moderator's approval moves the card to the "Second approval" queue, where the same
//! moderator is told a different one must approve, and a second moderator publishes it.

use vetted_samples::images;

use crate::harness::{Driver, Server, artifacts_dir};
use crate::steps::{
    choose_slot, moderator_signs_in_with_the_form, owner_signs_in_by_link, pick_file,
    wait_card_gone, wait_for_card, wait_for_row, wait_for_slots, wait_for_status,
};

async fn show_second_approval_queue(page: &crate::page::Page) {
    page.find("#queue-filter button[data-queue='second']")
        .await
        .expect("the Second approval button")
        .click()
        .await
        .unwrap();
    page.wait_text("#queue-title", "Second approval").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gallery_image_needs_two_moderators_and_the_first_cannot_be_the_second() {
    let artifacts = artifacts_dir("four-eyes");
    let settings_dir = tempfile::tempdir().unwrap();
    let config = settings_dir.path().join("vetted.toml");
    std::fs::write(&config, "[policy.gallery]\napprovals_required = 2\n").unwrap();
    let server = Server::start_with(|settings| vetted_app::serve::ServeSettings {
        config: Some(config.clone()),
        ..settings
    })
    .await;
    server
        .create_restaurant("trattoria-roma", "Trattoria Roma", &["luca"])
        .await;
    let driver = Driver::start(&artifacts);
    let owner_token = server.token("luca", "owner");
    let files = tempfile::tempdir().unwrap();

    let owner = driver.open("owner", &artifacts).await;
    owner_signs_in_by_link(&owner, &format!("{}/#token={owner_token}", server.base)).await;
    assert_eq!(wait_for_slots(&owner).await, "Trattoria Roma");
    choose_slot(&owner, "gallery-1").await;
    let png = files.path().join("terrace.png");
    std::fs::write(&png, images::png(640, 480)).unwrap();
    pick_file(&owner, &png).await;
    let upload_id = wait_for_row(&owner, "terrace.png").await;
    wait_for_status(&owner, &upload_id, "IN_REVIEW").await;

    // A second moderator signs in while the upload waits for its first review (the sign-in
    // step waits for a queue with something in it).
    let second = driver.open("second-moderator", &artifacts).await;
    moderator_signs_in_with_the_form(&second, &server.base, &server.token("mod-bo", "moderator"))
        .await;
    wait_for_card(&second, &upload_id).await;

    // The first moderator approves: the card leaves the first-review queue and waits under
    // "Second approval", naming who approved it.
    let first = driver.open("first-moderator", &artifacts).await;
    moderator_signs_in_with_the_form(&first, &server.base, &server.token("mod-ada", "moderator"))
        .await;
    wait_for_card(&first, &upload_id).await;
    first.press('a').await;
    first.wait_text(".toast", "First approval").await;
    wait_card_gone(&first, &upload_id).await;
    show_second_approval_queue(&first).await;
    wait_for_card(&first, &upload_id).await;
    let card = first
        .text(&format!(".review-card[data-upload-id='{upload_id}']"))
        .await
        .unwrap();
    // Badges are upper case on screen (CSS), so the text is compared in lower case.
    assert!(
        card.to_lowercase().contains("1 of 2 approvals · mod-ada"),
        "{card:?}"
    );
    first.screenshot("01-second-approval-queue.png").await;

    // The same moderator cannot give the second approval.
    first.press('a').await;
    first
        .wait_text(".banner", "A second moderator must approve")
        .await;
    first.screenshot("02-same-moderator-refused.png").await;

    // The second moderator does, and the image is published.
    show_second_approval_queue(&second).await;
    wait_for_card(&second, &upload_id).await;
    second.press('a').await;
    second.wait_text(".toast", "Approved").await;
    wait_for_status(&owner, &upload_id, "PUBLISHED").await;
    owner.screenshot("03-owner-published.png").await;

    owner.close().await;
    first.close().await;
    second.close().await;
}
