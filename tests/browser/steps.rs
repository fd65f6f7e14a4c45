//! Steps a person takes on the two pages, shared by the browser tests: sign in, choose the
//! slot a file goes to, pick a file, watch an upload's status or its refusal, see a slot show
//! its image, find a card in the console and wait for its preview.

use std::path::Path;

use serde_json::{Value, json};

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

/// Opens the console, opens the developer's "paste a token" under the account form, pastes
/// the token and submits it.
pub async fn moderator_signs_in_with_the_form(page: &Page, base: &str, token: &str) {
    page.goto(&format!("{base}/moderate")).await;
    page.wait_displayed("#developer summary")
        .await
        .click()
        .await
        .unwrap();
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

/// Waits until the owner page has loaded the chosen restaurant's slots, and answers the name
/// the restaurant picker shows.
pub async fn wait_for_slots(page: &Page) -> String {
    page.wait_displayed(".slot-tile[data-slot='logo']").await;
    page.wait_for("the slot picker to be filled and usable", async || {
        let ready = page
            .js(
                "return document.querySelectorAll('#slot-select option').length > 0
                   && !document.querySelector('#file-input').disabled;",
                vec![],
            )
            .await;
        ready.as_bool().unwrap_or(false).then_some(())
    })
    .await;
    let shown = page
        .js(
            "const select = document.querySelector('#restaurant-select');
             return select.options[select.selectedIndex].text;",
            vec![],
        )
        .await;
    shown.as_str().unwrap_or_default().to_owned()
}

/// Chooses where the next file goes (`logo`, `cover`, `gallery-N`) in the slot picker, as a
/// person would, and waits until the slots panel marks that slot.
pub async fn choose_slot(page: &Page, slot: &str) {
    page.find("#slot-select")
        .await
        .expect("the slot picker")
        .select_by_value(slot)
        .await
        .expect("choosing the slot");
    page.wait_displayed(&format!(".slot-tile.is-target[data-slot='{slot}']"))
        .await;
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

/// Waits until the row of `upload_id` is in `status`, with the badge saying so, and scrolls it
/// into view (the slots come first on the page); answers the row's text.
pub async fn wait_for_status(page: &Page, upload_id: &str, status: &str) -> String {
    let row = format!("#upload-list > li[data-upload-id='{upload_id}'][data-status='{status}']");
    page.wait_displayed(&row).await;
    scroll_into_view(page, &row).await;
    let badge = page.wait_text(&format!("{row} .badge"), "").await;
    let shown = badge.to_uppercase().replace(' ', "_");
    assert_eq!(shown, status, "the badge of {upload_id} says {badge:?}");
    page.text(&row).await.unwrap_or_default()
}

/// Waits until the page refused the file `filename` before sending it, scrolls the refusal into
/// view, and answers what it says.
pub async fn wait_for_refusal(page: &Page, filename: &str) -> String {
    page.wait_for(&format!("{filename} to be refused"), async || {
        let text = page
            .js(
                "const item = [...document.querySelectorAll('.transfer[data-state=refused]')]
                   .find((li) => li.querySelector('.transfer-name').textContent === arguments[0]);
                 if (!item) return null;
                 item.scrollIntoView({ block: 'nearest' });
                 return item.innerText;",
                vec![json!(filename)],
            )
            .await;
        text.as_str().map(str::to_owned)
    })
    .await
}

/// Waits until the owner page's tile of `slot` shows the image of `upload_id`, loaded, and
/// scrolls it into view; answers the tile's text.
pub async fn wait_for_slot_image(page: &Page, slot: &str, upload_id: &str) -> String {
    let tile = format!(".slot-tile[data-slot='{slot}'][data-upload-id='{upload_id}']");
    page.wait_for(&format!("{slot} to show {upload_id}"), async || {
        let loaded = page
            .js(
                "const img = document.querySelector(arguments[0] + ' .slot-frame img');
                 return Boolean(img && img.complete && img.naturalWidth > 0);",
                vec![json!(tile)],
            )
            .await;
        loaded.as_bool().unwrap_or(false).then_some(())
    })
    .await;
    scroll_into_view(page, &tile).await;
    page.text(&tile).await.unwrap_or_default()
}

/// Scrolls the first element matching `css` into view, as little as needed.
pub async fn scroll_into_view(page: &Page, css: &str) {
    page.js(
        "document.querySelector(arguments[0])?.scrollIntoView({ block: 'nearest' });",
        vec![json!(css)],
    )
    .await;
}

/// The natural size of the first image matching `css`, once it has loaded.
pub async fn loaded_image_size(page: &Page, css: &str) -> (u64, u64) {
    page.wait_for(&format!("{css} to load"), async || {
        let size = page
            .js(
                "const img = document.querySelector(arguments[0]);
                 return img && img.complete && img.naturalWidth > 0
                   ? [img.naturalWidth, img.naturalHeight] : null;",
                vec![json!(css)],
            )
            .await;
        Some((size[0].as_u64()?, size[1].as_u64()?))
    })
    .await
}

/// The owner's uploads as the API lists them, fetched from inside the page (same origin).
pub async fn owner_uploads(page: &Page, token: &str) -> Vec<Value> {
    let answer = page
        .client
        .execute_async(
            "const [token, done] = arguments;
             fetch('/api/uploads', { headers: { Authorization: 'Bearer ' + token } })
               .then((r) => r.json()).then((body) => done(body.items), (e) => done(String(e)));",
            vec![Value::String(token.to_owned())],
        )
        .await
        .expect("listing the owner's uploads");
    answer.as_array().cloned().unwrap_or_else(|| {
        panic!("GET /api/uploads failed in the page: {answer}");
    })
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
