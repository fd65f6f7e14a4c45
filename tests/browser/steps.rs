//! Steps a person takes on the two pages, shared by the browser tests: sign in, pick a file,
//! watch an upload's status, find a card in the console and wait for its preview.

use std::path::Path;

use serde_json::json;

use crate::harness::Page;

/// Opens the owner page through a `#token=` link and checks that the page signed in and took
/// the token out of the address bar.
pub async fn owner_signs_in_by_link(page: &Page, link: &str) {
    page.goto(link).await;
    page.wait_displayed("#upload-title").await;
    let url = page.client.current_url().await.unwrap();
    assert_eq!(
        url.fragment(),
        None,
        "the token stayed in the address bar: {url}"
    );
    assert!(!page.is_displayed("#signin").await);
}

/// Opens the console, pastes the token into the sign-in form and submits it.
pub async fn moderator_signs_in_with_the_form(page: &Page, base: &str, token: &str) {
    page.goto(&format!("{base}/moderate")).await;
    let input = page.wait_displayed("#token-input").await;
    input.send_keys(token).await.unwrap();
    page.find("#signin-form button[type=submit]")
        .await
        .expect("the sign-in button")
        .click()
        .await
        .unwrap();
    page.wait_displayed("#queue").await;
}

/// Picks `file` in the owner page's file input, as the file chooser would.
pub async fn pick_file(page: &Page, file: &Path) {
    let input = page.find("#file-input").await.expect("the file input");
    input
        .send_keys(file.to_str().expect("a UTF-8 path"))
        .await
        .expect("choosing the file");
}

/// The id of the upload listed under `filename`, once the list shows it.
pub async fn wait_for_row(page: &Page, filename: &str) -> String {
    page.wait_for(&format!("a row for {filename}"), async || {
        let id = page
            .js(
                "const row = [...document.querySelectorAll('#upload-list > li')]
                   .find((li) => li.querySelector('.upload-name').textContent === arguments[0]);
                 return row ? row.dataset.uploadId : null;",
                vec![json!(filename)],
            )
            .await;
        id.as_str().map(str::to_owned)
    })
    .await
}

/// Waits until the row of `upload_id` is in `status`, with the badge saying so; answers the
/// row's text.
pub async fn wait_for_status(page: &Page, upload_id: &str, status: &str) -> String {
    let row = format!("#upload-list > li[data-upload-id='{upload_id}'][data-status='{status}']");
    page.wait_displayed(&row).await;
    let badge = page.wait_text(&format!("{row} .badge"), "").await;
    let shown = badge.to_uppercase().replace(' ', "_");
    assert_eq!(shown, status, "the badge of {upload_id} says {badge:?}");
    page.text(&row).await.unwrap_or_default()
}

/// Waits until the console shows the card of `upload_id` with its preview image loaded.
pub async fn wait_for_card(page: &Page, upload_id: &str) {
    let card = format!(".review-card[data-upload-id='{upload_id}']");
    page.wait_displayed(&card).await;
    page.wait_for(&format!("the preview of {upload_id}"), async || {
        let loaded = page
            .js(
                "const img = document.querySelector(arguments[0] + ' .preview img');
                 return Boolean(img && img.complete && img.naturalWidth > 0);",
                vec![json!(card)],
            )
            .await;
        loaded.as_bool().unwrap_or(false).then_some(())
    })
    .await;
}

/// The upload id of the card the console has selected (the one A and D act on).
pub async fn current_card(page: &Page) -> Option<String> {
    page.find(".review-card.is-current")
        .await?
        .attr("data-upload-id")
        .await
        .ok()
        .flatten()
}

/// Waits until the card of `upload_id` has left the console's queue.
pub async fn wait_card_gone(page: &Page, upload_id: &str) {
    let card = format!(".review-card[data-upload-id='{upload_id}']");
    page.wait_for(&format!("{upload_id} to leave the queue"), async || {
        (page.count(&card).await == 0).then_some(())
    })
    .await;
}
