//! The main path in a real browser: an owner uploads a PNG to a gallery position of their
//! restaurant through the page (presigned POST from the browser), a moderator approves it with
//! the keyboard, the owner sees PUBLISHED and the slot showing it; then an SVG and a file
//! without an extension are refused by the page, with their reasons, and nothing is uploaded.

use vetted_samples::{hostile, images};

use crate::harness::{Driver, Server, artifacts_dir};
use crate::steps::{
    choose_slot, current_card, moderator_signs_in_with_the_form, owner_signs_in_by_link,
    owner_uploads, pick_file, wait_card_gone, wait_for_card, wait_for_refusal, wait_for_row,
    wait_for_slot_image, wait_for_slots, wait_for_status,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_png_uploaded_in_the_page_is_approved_in_the_console_and_an_svg_is_refused() {
    let artifacts = artifacts_dir("upload-review");
    let server = Server::start(false).await;
    server
        .create_restaurant("trattoria-roma", "Trattoria Roma", &["luca"])
        .await;
    let driver = Driver::start(&artifacts);
    let owner_token = server.token("luca", "owner");
    let moderator_token = server.token("mod-ada", "moderator");
    let files = tempfile::tempdir().unwrap();

    // The owner signs in with a link, finds their restaurant with empty slots, and uploads a
    // real PNG to the first gallery position through the file picker.
    let owner = driver.open("owner", &artifacts).await;
    owner_signs_in_by_link(&owner, &format!("{}/#token={owner_token}", server.base)).await;
    assert_eq!(wait_for_slots(&owner).await, "Trattoria Roma");
    owner.wait_displayed("#empty").await;
    owner.screenshot("01-owner-signed-in.png").await;
    choose_slot(&owner, "gallery-1").await;
    let png = files.path().join("storefront.png");
    std::fs::write(&png, images::png(640, 480)).unwrap();
    pick_file(&owner, &png).await;
    let upload_id = wait_for_row(&owner, "storefront.png").await;
    let row = wait_for_status(&owner, &upload_id, "IN_REVIEW").await;
    for fact in ["640 × 480", "Trattoria Roma", "Gallery 1"] {
        assert!(row.contains(fact), "the row lacks {fact:?}: {row:?}");
    }
    owner.screenshot("02-owner-in-review.png").await;

    // A moderator signs in with the form, sees the card with its preview, approves with "A".
    let moderator = driver.open("moderator", &artifacts).await;
    moderator_signs_in_with_the_form(&moderator, &server.base, &moderator_token).await;
    wait_for_card(&moderator, &upload_id).await;
    let card = moderator
        .text(&format!(".review-card[data-upload-id='{upload_id}']"))
        .await
        .unwrap();
    for fact in [
        "storefront.png",
        "640 × 480",
        "Trattoria Roma",
        "trattoria-roma",
        "PNG",
        "No image yet",
    ] {
        assert!(card.contains(fact), "the card lacks {fact:?}: {card:?}");
    }
    assert!(card.to_lowercase().contains("gallery 1"), "{card:?}");
    assert_eq!(current_card(&moderator).await.as_deref(), Some(&*upload_id));
    moderator.screenshot("03-console-card.png").await;
    moderator.press('?').await;
    moderator.wait_displayed("#help").await;
    moderator.screenshot("04-console-shortcuts.png").await;
    moderator.press('?').await;
    moderator
        .wait_for("the help to close", async || {
            (!moderator.is_displayed("#help").await).then_some(())
        })
        .await;
    moderator.press('a').await;
    moderator.wait_text(".toast", "Approved").await;
    wait_card_gone(&moderator, &upload_id).await;
    moderator.wait_displayed("#empty").await;
    moderator.screenshot("05-console-approved.png").await;

    // The owner's page, still open, follows the upload to PUBLISHED by itself, links to the
    // published image, and the gallery position shows it.
    let row = wait_for_status(&owner, &upload_id, "PUBLISHED").await;
    assert!(row.contains("published"), "{row:?}");
    let link = owner
        .find(&format!(
            "#upload-list > li[data-upload-id='{upload_id}'] a.upload-link"
        ))
        .await
        .expect("a link to the published image")
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(link.contains(&*upload_id), "{link:?}");
    let tile = wait_for_slot_image(&owner, "gallery-1", &upload_id).await;
    assert!(tile.contains("640 × 480"), "{tile:?}");
    owner.screenshot("06-owner-published.png").await;

    // An SVG with a script is refused by the page before anything is sent, and says why.
    let svg = files.path().join("logo.svg");
    std::fs::write(&svg, hostile::svg_with_script()).unwrap();
    pick_file(&owner, &svg).await;
    let refusal = owner
        .wait_text(".transfer[data-state='refused']", "SVG")
        .await;
    assert!(refusal.contains("logo.svg"), "{refusal:?}");
    assert!(refusal.contains("type_not_allowed"), "{refusal:?}");
    owner.screenshot("07-owner-svg-refused.png").await;

    // A file without an extension is refused by the page by the API's extension rule, in
    // its words, with the extensions read from GET /api/policy.
    let nameless = files.path().join("storefront-copy");
    std::fs::write(&nameless, images::png(640, 480)).unwrap();
    pick_file(&owner, &nameless).await;
    let refusal = wait_for_refusal(&owner, "storefront-copy").await;
    assert!(refusal.contains("extension_not_allowed"), "{refusal:?}");
    assert!(
        refusal.contains(
            "The filename has no extension: gallery takes .jpg, .jpeg, .png or .webp files."
        ),
        "{refusal:?}"
    );
    assert_eq!(owner.count("#upload-list > li").await, 1);
    let listed = owner_uploads(&owner, &owner_token).await;
    assert_eq!(listed.len(), 1, "the SVG reached the API: {listed:?}");
    assert_eq!(listed[0]["filename"], "storefront.png");

    owner.close().await;
    moderator.close().await;
}
