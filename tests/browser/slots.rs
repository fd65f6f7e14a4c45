//! Slots in a real browser. An owner publishes a logo, then sends a second one to the same
//! slot: the console shows it beside the live logo, with the restaurant, the slot and the logo
//! rules, and the slot-kind filter hides and shows it; once approved, the owner's logo slot shows
//! the new one. A third logo shows as pending on the slot and is withdrawn from the page. A
//! logo that breaks a rule (too small, too wide) is refused by the page, in the words the
//! server uses, with nothing uploaded. And an owner takes a gallery image down, which staff
//! are not offered.

use vetted_samples::images;

use crate::harness::{Driver, Page, Server, artifacts_dir};
use crate::steps::{
    choose_slot, current_card, loaded_image_size, owner_signs_in_by_link, owner_uploads, pick_file,
    wait_card_gone, wait_for_card, wait_for_refusal, wait_for_row, wait_for_slot_image,
    wait_for_slots, wait_for_status,
};

const RESTAURANT: &str = "trattoria-roma";
const NAME: &str = "Trattoria Roma";
const OWNER: &str = "luca";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_logo_is_reviewed_beside_the_live_one_and_then_replaces_it() {
    let artifacts = artifacts_dir("slots-replace-logo");
    let server = Server::start(false).await;
    server.create_restaurant(RESTAURANT, NAME, &[OWNER]).await;
    let driver = Driver::start(&artifacts);
    let owner_token = server.token(OWNER, "owner");
    let moderator_token = server.token("mod-ada", "moderator");
    let files = tempfile::tempdir().unwrap();

    // The first logo, 512×512, through the page and the console.
    let owner = driver.open("owner", &artifacts).await;
    owner_signs_in_by_link(&owner, &format!("{}/#token={owner_token}", server.base)).await;
    wait_for_slots(&owner).await;
    let empty = owner.text(".slot-tile[data-slot='logo']").await.unwrap();
    assert!(empty.contains("No image yet"), "{empty:?}");
    owner.screenshot("01-owner-empty-slots.png").await;
    choose_slot(&owner, "logo").await;
    let square = files.path().join("logo-square.png");
    std::fs::write(&square, images::png(512, 512)).unwrap();
    pick_file(&owner, &square).await;
    let first = wait_for_row(&owner, "logo-square.png").await;
    let row = wait_for_status(&owner, &first, "IN_REVIEW").await;
    assert!(row.contains("Logo") && row.contains(NAME), "{row:?}");

    let moderator = driver.open("moderator", &artifacts).await;
    moderator
        .goto(&format!("{}/moderate#token={moderator_token}", server.base))
        .await;
    wait_for_card(&moderator, &first).await;
    let card = card_text(&moderator, &first).await;
    assert!(card.contains("No image yet"), "{card:?}");
    moderator.press('a').await;
    wait_card_gone(&moderator, &first).await;

    wait_for_status(&owner, &first, "PUBLISHED").await;
    let tile = wait_for_slot_image(&owner, "logo", &first).await;
    assert!(tile.contains("512 × 512"), "{tile:?}");
    assert!(tile.contains("Replace"), "{tile:?}");
    owner.screenshot("02-owner-first-logo-live.png").await;

    // A second logo, 1024×512 (2:1, within the logo's 1:1 to 4:1), to the same slot.
    choose_slot(&owner, "logo").await;
    let wide = files.path().join("logo-wide.png");
    std::fs::write(&wide, images::png(1024, 512)).unwrap();
    pick_file(&owner, &wide).await;
    let second = wait_for_row(&owner, "logo-wide.png").await;
    wait_for_status(&owner, &second, "IN_REVIEW").await;
    owner.screenshot("03-owner-second-logo-in-review.png").await;

    // The console shows it beside the live logo, with the restaurant, the slot and the rules.
    moderator.press('r').await;
    wait_for_card(&moderator, &second).await;
    let card_css = format!(".review-card[data-upload-id='{second}']");
    let live = loaded_image_size(&moderator, &format!("{card_css} .live-preview img")).await;
    assert_eq!(
        live.0, live.1,
        "the live logo is not the square one: {live:?}"
    );
    let proposed = loaded_image_size(&moderator, &format!("{card_css} .preview img")).await;
    assert_eq!(
        proposed.0,
        2 * proposed.1,
        "the proposed logo: {proposed:?}"
    );
    let live_upload = moderator
        .find(&format!("{card_css} .pane-live"))
        .await
        .unwrap()
        .attr("data-live-upload-id")
        .await
        .unwrap();
    assert_eq!(live_upload.as_deref(), Some(&*first));
    let card = card_text(&moderator, &second).await;
    for fact in [
        "Proposed",
        "1024 × 512",
        "Live now",
        "512 × 512",
        NAME,
        RESTAURANT,
        "512 px",
        "1:1 to 4:1",
        "5 MB",
        "logo-wide.png",
    ] {
        assert!(
            card.to_lowercase().contains(&fact.to_lowercase()),
            "the card lacks {fact:?}: {card:?}"
        );
    }
    assert_eq!(current_card(&moderator).await.as_deref(), Some(&*second));
    moderator.screenshot("04-console-side-by-side.png").await;

    // The slot-kind filter: covers only hides it; logos only brings it back, in the address too.
    click(&moderator, "#kind-filter button[data-kind='cover']").await;
    wait_card_gone(&moderator, &second).await;
    moderator.wait_text("#empty", "No cover image").await;
    moderator.screenshot("05-console-covers-only.png").await;
    click(&moderator, "#kind-filter button[data-kind='logo']").await;
    wait_for_card(&moderator, &second).await;
    let address = moderator.client.current_url().await.unwrap();
    assert_eq!(address.query(), Some("kind=logo"), "{address}");
    moderator
        .wait_for("the logo card to be selected", async || {
            (current_card(&moderator).await.as_deref() == Some(&*second)).then_some(())
        })
        .await;

    // Approved with the keyboard: the owner's logo slot now shows the new logo.
    moderator.press('a').await;
    moderator.wait_text(".toast", "Approved").await;
    wait_card_gone(&moderator, &second).await;
    wait_for_status(&owner, &second, "PUBLISHED").await;
    let tile = wait_for_slot_image(&owner, "logo", &second).await;
    assert!(tile.contains("1024 × 512"), "{tile:?}");
    let shown = loaded_image_size(&owner, ".slot-tile[data-slot='logo'] .slot-frame img").await;
    assert_eq!(shown.0, 2 * shown.1, "the logo slot shows {shown:?}");
    // The highlight of the row that just changed fades before the picture is taken.
    owner
        .wait_for("the highlights to fade", async || {
            (owner.count("#upload-list .is-changed").await == 0).then_some(())
        })
        .await;
    owner.screenshot("06-owner-new-logo-live.png").await;

    // A third logo, withdrawn by the owner while in review: the slot keeps the second one.
    choose_slot(&owner, "logo").await;
    let third = files.path().join("logo-third.png");
    std::fs::write(&third, images::png(1200, 600)).unwrap();
    pick_file(&owner, &third).await;
    let third = wait_for_row(&owner, "logo-third.png").await;
    wait_for_status(&owner, &third, "IN_REVIEW").await;
    owner
        .wait_text(
            ".slot-tile[data-slot='logo'] .slot-pending",
            "New image in review",
        )
        .await;
    moderator.press('r').await;
    wait_for_card(&moderator, &third).await;
    click(
        &owner,
        &format!("#upload-list li[data-upload-id='{third}'] .withdraw"),
    )
    .await;
    let row = wait_for_status(&owner, &third, "WITHDRAWN").await;
    assert!(row.contains("You withdrew this request"), "{row:?}");
    let button = format!("#upload-list li[data-upload-id='{third}'] .withdraw");
    assert_eq!(
        owner.count(&button).await,
        0,
        "a withdrawn row offers Withdraw"
    );
    owner
        .wait_for("the pending note to go", async || {
            (owner
                .count(".slot-tile[data-slot='logo'] .slot-pending")
                .await
                == 0)
                .then_some(())
        })
        .await;
    let tile = wait_for_slot_image(&owner, "logo", &second).await;
    assert!(tile.contains("1024 × 512"), "{tile:?}");
    moderator.press('r').await;
    wait_card_gone(&moderator, &third).await;

    owner.close().await;
    moderator.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logo_that_breaks_a_rule_is_refused_in_the_page_and_nothing_is_uploaded() {
    let artifacts = artifacts_dir("slots-logo-refused");
    let server = Server::start(false).await;
    server.create_restaurant(RESTAURANT, NAME, &[OWNER]).await;
    let driver = Driver::start(&artifacts);
    let owner_token = server.token(OWNER, "owner");
    let files = tempfile::tempdir().unwrap();

    let owner = driver.open("owner", &artifacts).await;
    owner_signs_in_by_link(&owner, &format!("{}/#token={owner_token}", server.base)).await;
    wait_for_slots(&owner).await;
    choose_slot(&owner, "logo").await;
    let hint = owner.text("#dropzone-hint").await.unwrap();
    assert!(hint.contains("at least 512 × 512 px"), "{hint:?}");

    // 300×300: too small for a logo, in the server's words.
    let small = files.path().join("small-logo.png");
    std::fs::write(&small, images::png(300, 300)).unwrap();
    pick_file(&owner, &small).await;
    let refusal = wait_for_refusal(&owner, "small-logo.png").await;
    for fact in [
        "Refused before sending",
        "300 × 300",
        "logo must be at least 512×512 pixels",
        "too_small_dimensions",
    ] {
        assert!(
            refusal.contains(fact),
            "the refusal lacks {fact:?}: {refusal:?}"
        );
    }
    owner.screenshot("01-owner-small-logo-refused.png").await;

    // 2100×512 is wider than 4:1.
    let banner = files.path().join("banner-logo.png");
    std::fs::write(&banner, images::png(2100, 512)).unwrap();
    pick_file(&owner, &banner).await;
    let refusal = wait_for_refusal(&owner, "banner-logo.png").await;
    assert!(
        refusal.contains("logo must have an aspect ratio between 1:1 and 4:1"),
        "{refusal:?}"
    );
    assert!(refusal.contains("wrong_aspect_ratio"), "{refusal:?}");
    owner.screenshot("02-owner-wide-logo-refused.png").await;

    // Nothing reached the API, and the list stays empty.
    assert_eq!(owner.count("#upload-list > li").await, 0);
    let listed = owner_uploads(&owner, &owner_token).await;
    assert!(
        listed.is_empty(),
        "a refused logo reached the API: {listed:?}"
    );
    owner.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_removes_a_gallery_image_and_staff_are_not_offered_to() {
    const STAFF: &str = "giulia";
    let artifacts = artifacts_dir("slots-remove-gallery");
    let server = Server::start(false).await;
    server.create_restaurant(RESTAURANT, NAME, &[OWNER]).await;
    let driver = Driver::start(&artifacts);
    let owner_token = server.token(OWNER, "owner");
    let moderator_token = server.token("mod-ada", "moderator");
    let http = reqwest::Client::new();
    let staff_added = http
        .put(format!(
            "{}/api/restaurants/{RESTAURANT}/members/{STAFF}",
            server.base
        ))
        .bearer_auth(&owner_token)
        .json(&serde_json::json!({"role": "staff"}))
        .send()
        .await
        .unwrap();
    assert_eq!(staff_added.status(), 200, "adding the staff member");
    let files = tempfile::tempdir().unwrap();

    let owner = driver.open("owner", &artifacts).await;
    owner_signs_in_by_link(&owner, &format!("{}/#token={owner_token}", server.base)).await;
    wait_for_slots(&owner).await;
    choose_slot(&owner, "gallery-2").await;
    let photo = files.path().join("terrace.png");
    std::fs::write(&photo, images::png(800, 600)).unwrap();
    pick_file(&owner, &photo).await;
    let upload = wait_for_row(&owner, "terrace.png").await;
    wait_for_status(&owner, &upload, "IN_REVIEW").await;
    let approved = http
        .post(format!("{}/api/reviews/{upload}/decision", server.base))
        .bearer_auth(&moderator_token)
        .json(&serde_json::json!({"decision": "approve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200, "approving {upload}");
    wait_for_status(&owner, &upload, "PUBLISHED").await;
    let tile = wait_for_slot_image(&owner, "gallery-2", &upload).await;
    assert!(tile.contains("Remove"), "{tile:?}");
    assert_eq!(
        owner
            .count(".slot-tile[data-slot='logo'] .slot-remove")
            .await,
        0,
        "a logo offers Remove"
    );

    // Staff see the image but are not offered to remove it.
    let staff = driver.open("staff", &artifacts).await;
    owner_signs_in_by_link(
        &staff,
        &format!("{}/#token={}", server.base, server.token(STAFF, "owner")),
    )
    .await;
    wait_for_slots(&staff).await;
    wait_for_slot_image(&staff, "gallery-2", &upload).await;
    assert_eq!(
        staff.count(".slot-remove").await,
        0,
        "staff are offered Remove"
    );
    staff.close().await;

    // The first press asks again on the button; the second removes.
    let remove = ".slot-tile[data-slot='gallery-2'] .slot-remove";
    click(&owner, remove).await;
    owner.wait_text(remove, "Confirm").await;
    owner.screenshot("01-owner-confirms-removal.png").await;
    click(&owner, remove).await;
    owner
        .wait_text(".slot-tile[data-slot='gallery-2']", "Image removed")
        .await;
    assert_eq!(
        owner
            .count(".slot-tile[data-slot='gallery-2'] .slot-frame img")
            .await,
        0,
        "the removed image still shows"
    );
    owner.screenshot("02-owner-gallery-image-removed.png").await;
    let served = http
        .get(format!("{}/media/{RESTAURANT}/gallery-2", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 404, "the slot still serves the image");
    owner.close().await;
}

/// The rendered text of the console's card of `upload_id`.
async fn card_text(page: &Page, upload_id: &str) -> String {
    page.text(&format!(".review-card[data-upload-id='{upload_id}']"))
        .await
        .unwrap_or_default()
}

async fn click(page: &Page, css: &str) {
    page.find(css)
        .await
        .unwrap_or_else(|| panic!("no {css}"))
        .click()
        .await
        .unwrap();
}
