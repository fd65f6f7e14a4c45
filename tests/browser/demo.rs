//! `vetted serve --demo` in a real browser: the sign-in links its banner prints work, the owner
//! page opens on the demo owner's own restaurant and lists the seeded uploads (three in review,
//! three rejected with their reasons, the too-small logo's in the words of its rule), the console
//! shows the three waiting ones, and the image approved there appears in its slot on the owner's
//! page. It also takes the README's screenshots:
//! `target/browser-artifacts/demo/owner.png` and `moderate.png`, copied to `docs/screenshots/`
//! when run as `VETTED_UPDATE_SCREENSHOTS=1 cargo test -p vetted-tests --test browser demo`.

use std::path::Path;

use vetted_samples::hostile;

use crate::harness::{Driver, Page, Server, artifacts_dir};
use crate::steps::{current_card, pick_file, wait_for_slot_image, wait_for_slots};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_links_sign_in_and_the_pages_show_the_seeded_uploads() {
    let artifacts = artifacts_dir("demo");
    let server = Server::start(true).await;
    let (owner_link, moderator_link) = server.demo_links();
    let driver = Driver::start(&artifacts);

    let owner = driver.open("owner", &artifacts).await;
    owner.goto(&owner_link).await;
    // The demo owner owns Trattoria Roma and is staff at Sushi Kyo: the page opens on the first.
    assert_eq!(wait_for_slots(&owner).await, "Trattoria Roma");
    let restaurants = owner
        .js(
            "return [...document.querySelectorAll('#restaurant-select option')].map((o) => o.text);",
            vec![],
        )
        .await;
    let mut restaurants: Vec<&str> = restaurants
        .as_array()
        .expect("the picker's options")
        .iter()
        .filter_map(|name| name.as_str())
        .collect();
    restaurants.sort_unstable();
    assert_eq!(restaurants, ["Sushi Kyo (staff)", "Trattoria Roma"]);
    wait_for_statuses(&owner, &[("IN_REVIEW", 3), ("REJECTED", 3)]).await;
    let list = owner.text("#upload-list").await.unwrap_or_default();
    for reason in [
        "truncated",
        "too_small_dimensions",
        "type_not_allowed",
        "logo must be at least 512×512 pixels",
    ] {
        assert!(
            list.contains(reason),
            "the list does not show {reason}: {list:?}"
        );
    }

    let moderator = driver.open("moderator", &artifacts).await;
    moderator.goto(&moderator_link).await;
    moderator
        .wait_for("three cards with loaded previews", async || {
            let loaded = moderator
                .js(
                    "const imgs = [...document.querySelectorAll('.review-card .preview img')];
                     return imgs.filter((img) => img.complete && img.naturalWidth > 0).length;",
                    vec![],
                )
                .await;
            (loaded == 3).then_some(())
        })
        .await;
    let shot = moderator.screenshot("moderate.png").await;
    publish_screenshot(&shot, "moderate.png");

    // Approve the first with A; the next is then selected: decline it as not relevant.
    let first = current_card(&moderator).await.expect("a selected card");
    let slot = moderator
        .find(&format!(".review-card[data-upload-id='{first}']"))
        .await
        .unwrap()
        .attr("data-slot")
        .await
        .unwrap()
        .expect("the card names its slot");
    moderator.press('a').await;
    moderator.wait_text(".toast", "Approved").await;
    moderator
        .wait_for("the next card to be selected", async || {
            current_card(&moderator).await.filter(|id| *id != first)
        })
        .await;
    moderator.press('d').await;
    moderator.press('3').await;
    moderator
        .wait_for("one card left", async || {
            (moderator.count(".review-card").await == 1).then_some(())
        })
        .await;

    // The owner's page, left open, shows every kind of outcome; an SVG is refused in place.
    wait_for_statuses(
        &owner,
        &[
            ("PUBLISHED", 1),
            ("DECLINED", 1),
            ("IN_REVIEW", 1),
            ("REJECTED", 3),
        ],
    )
    .await;
    // The approved image shows in its slot on the owner's page.
    wait_for_slot_image(&owner, &slot, &first).await;
    let files = tempfile::tempdir().unwrap();
    let svg = files.path().join("new-logo.svg");
    std::fs::write(&svg, hostile::svg_with_script()).unwrap();
    pick_file(&owner, &svg).await;
    owner
        .wait_text(".transfer[data-state='refused']", "never accepted")
        .await;
    // The rows that just changed are highlighted for a moment: take the picture after.
    owner
        .wait_for("the highlights to fade", async || {
            (owner
                .count("#upload-list .is-changed, #upload-list .is-new")
                .await
                == 0)
                .then_some(())
        })
        .await;
    // Tall enough for the slots and the list under them, scrolled to the top.
    owner.set_viewport(1280, 1440).await;
    owner.js("window.scrollTo(0, 0);", vec![]).await;
    let shot = owner.screenshot("owner.png").await;
    publish_screenshot(&shot, "owner.png");

    owner.close().await;
    moderator.close().await;
}

/// Waits until the owner's list holds exactly these numbers of uploads in these statuses.
async fn wait_for_statuses(page: &Page, expected: &[(&str, usize)]) {
    let total: usize = expected.iter().map(|(_, n)| n).sum();
    page.wait_for(&format!("the statuses {expected:?}"), async || {
        if page.count("#upload-list > li").await != total {
            return None;
        }
        for (status, n) in expected {
            let css = format!("#upload-list > li[data-status='{status}']");
            if page.count(&css).await != *n {
                return None;
            }
        }
        Some(())
    })
    .await;
}

/// Copies a README screenshot to `docs/screenshots/` when asked to.
fn publish_screenshot(shot: &Path, name: &str) {
    if std::env::var_os("VETTED_UPDATE_SCREENSHOTS").is_none() {
        return;
    }
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::copy(shot, docs.join(name)).unwrap();
}
