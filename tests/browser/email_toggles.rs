//! The email switches in a real browser: a moderator subscribes to escalation emails in the
//! console and finds the box still ticked after a reload (the server stored it); one whose
//! token has no address is told why and the box goes back; an owner turns on the emails about
//! their requests on the owner page.

use crate::harness::{Driver, Server, artifacts_dir};
use crate::page::Page;
use crate::steps::{owner_signs_in_by_link, wait_for_slots};

/// Signs in on the console with `token` through the developer form, and waits for the
/// escalation box to be usable (it is disabled while its setting loads).
async fn console_with(page: &Page, base: &str, token: &str) {
    page.goto(&format!("{base}/moderate")).await;
    page.wait_displayed("#developer summary")
        .await
        .click()
        .await
        .unwrap();
    page.wait_displayed("#token-input")
        .await
        .send_keys(token)
        .await
        .unwrap();
    page.find("#signin-form button[type=submit]")
        .await
        .expect("the sign-in button")
        .click()
        .await
        .unwrap();
    wait_usable(page, "#escalation-emails").await;
}

async fn wait_usable(page: &Page, css: &str) {
    page.wait_displayed(css).await;
    page.wait_for(&format!("{css} to be enabled"), async || {
        let enabled = page
            .js(
                "return !document.querySelector(arguments[0]).disabled;",
                vec![css.into()],
            )
            .await;
        enabled.as_bool().unwrap_or(false).then_some(())
    })
    .await;
}

async fn checked(page: &Page, css: &str) -> bool {
    page.js(
        "return document.querySelector(arguments[0]).checked;",
        vec![css.into()],
    )
    .await
    .as_bool()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_and_owners_switch_their_emails_on_in_the_pages() {
    let artifacts = artifacts_dir("email-toggles");
    let server = Server::start(false).await;
    server
        .create_restaurant("osteria-blu", "Osteria Blu", &["gio"])
        .await;
    let driver = Driver::start(&artifacts);

    let ada = driver.open("moderator-with-address", &artifacts).await;
    let token = server.token_with_email("mod-ada", "moderator", "ada@example.com");
    console_with(&ada, &server.base, &token).await;
    assert!(
        !checked(&ada, "#escalation-emails").await,
        "off until asked"
    );
    ada.find("#escalation-emails")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    ada.wait_text("#escalation-emails-note", "To ada@example.com")
        .await;
    ada.screenshot("01-subscribed.png").await;
    // The session survives a reload; the box shows what the server stored.
    ada.goto(&format!("{}/moderate", server.base)).await;
    wait_usable(&ada, "#escalation-emails").await;
    ada.wait_text("#escalation-emails-note", "To ada@example.com")
        .await;
    assert!(checked(&ada, "#escalation-emails").await);

    // A pasted token without an address: refused in words, and the box goes back.
    let bo = driver.open("moderator-without-address", &artifacts).await;
    console_with(&bo, &server.base, &server.token("mod-bo", "moderator")).await;
    bo.find("#escalation-emails")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    bo.wait_text("#escalation-emails-note", "no verified email address")
        .await;
    wait_usable(&bo, "#escalation-emails").await;
    assert!(!checked(&bo, "#escalation-emails").await, "not subscribed");
    bo.screenshot("02-no-address.png").await;

    let owner = driver.open("owner", &artifacts).await;
    let token = server.token_with_email("gio", "owner", "gio@example.com");
    owner_signs_in_by_link(&owner, &format!("{}/#token={token}", server.base)).await;
    wait_for_slots(&owner).await;
    wait_usable(&owner, "#outcome-emails").await;
    owner
        .find("#outcome-emails")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    owner
        .wait_text("#outcome-emails-note", "To gio@example.com")
        .await;
    assert!(checked(&owner, "#outcome-emails").await);
    owner.screenshot("03-owner-emails-on.png").await;
}
