//! Accounts in the owner page, with the codes read from a real SMTP server (aiosmtpd, as
//! `vetted serve`'s `[mail.smtp]`): sign up (a weak password refused by the page before it is
//! sent), confirm with the emailed code, sign in, be added to a restaurant by an admin, upload
//! a logo, survive an ID token the server refuses (one refresh, and the page carries on), and
//! sign out, after which the refresh token no longer works (and a tab still holding it shows
//! the sign-in form with the API's words). Then a forgotten password: the emailed code and a
//! new password, a wrong code and the old password refused in the API's words, signing in
//! with the new one, and the moderator console turning that owner's account away.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;
use vetted_samples::images;

use crate::harness::{Driver, Page, STEP_DEADLINE, Server, artifacts_dir};
use crate::steps::{choose_slot, pick_file, wait_for_row, wait_for_slots, wait_for_status};
use crate::support::eventually;
use crate::support::server::ServeSettings;
use crate::support::smtp::SmtpSink;

const PASSWORD: &str = "Terrace-Lunch-2026";
const NEW_PASSWORD: &str = "Garden-Dinner-2027";

/// An SMTP sink, and `vetted serve` sending its account codes to it.
async fn server_with_smtp(dir: &TempDir) -> (Server, SmtpSink) {
    let sink = SmtpSink::start(&dir.path().join("sink")).await;
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "[mail]\nfrom = \"Vetted <vetted@serve.example>\"\n\
             [mail.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
            sink.port
        ),
    )
    .unwrap();
    let server = Server::start_with(|settings| ServeSettings {
        config: Some(config),
        ..settings
    })
    .await;
    (server, sink)
}

/// The code in the newest message to `to` whose subject mentions `subject`, once the sink has
/// one: the six digits alone on a line of its text part.
async fn emailed_code(sink: &SmtpSink, to: &str, subject: &str) -> String {
    eventually(
        STEP_DEADLINE,
        Duration::from_millis(100),
        &format!("an email to {to} about {subject:?}"),
        || async {
            let messages = sink.messages();
            let message = messages
                .iter()
                .rev()
                .find(|m| {
                    m.envelope_to.contains(to)
                        && m.header("Subject")
                            .is_some_and(|s| s.to_lowercase().contains(subject))
                })
                .ok_or_else(|| {
                    format!(
                        "{} messages, none to {to} about {subject:?}",
                        messages.len()
                    )
                })?;
            message
                .raw
                .lines()
                .map(str::trim)
                .find(|line| line.len() == 6 && line.bytes().all(|b| b.is_ascii_digit()))
                .map(str::to_owned)
                .ok_or_else(|| format!("no code in {}", message.raw))
        },
    )
    .await
}

/// A fresh address, so that runs never share an account.
fn new_address(label: &str) -> String {
    format!(
        "{label}-{}@restaurants.example",
        vetted_core::UploadId::generate()
    )
}

/// Waits until the account form shows `view` (`signin`, `register`, `confirm`, `forgot`, `reset`).
async fn wait_for_view(page: &Page, view: &str) {
    page.wait_displayed(&format!("#account-form[data-view='{view}']"))
        .await;
}

/// Replaces what the input matching `css` holds with `text`, typed as a person would.
async fn fill(page: &Page, css: &str, text: &str) {
    let input = page.wait_displayed(css).await;
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

async fn click(page: &Page, css: &str) {
    page.wait_displayed(css).await.click().await.unwrap();
}

async fn submit(page: &Page) {
    click(page, "#account-form button[type=submit]").await;
}

/// The session the owner page keeps in sessionStorage, with the ID token's `sub`, `email` and
/// groups read from it; null if there is none.
async fn stored_session(page: &Page) -> Value {
    page.js(
        "const stored = sessionStorage.getItem('vetted.session.owner');
         if (!stored) return null;
         const session = JSON.parse(stored);
         const payload = session.id_token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
         return { ...session, claims: JSON.parse(atob(payload)) };",
        vec![],
    )
    .await
}

/// How many requests the page has made to `path` (the browser's resource timing).
async fn requests_to(page: &Page, path: &str) -> u64 {
    page.js(
        "return performance.getEntriesByType('resource')
           .filter((entry) => new URL(entry.name).pathname === arguments[0]).length;",
        vec![json!(path)],
    )
    .await
    .as_u64()
    .unwrap()
}

async fn post(server: &Server, path: &str, body: Value) -> (u16, Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.base))
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_signs_up_confirms_signs_in_uploads_a_logo_and_signs_out() {
    let artifacts = artifacts_dir("accounts");
    let dir = tempfile::tempdir().unwrap();
    let (server, sink) = server_with_smtp(&dir).await;
    let driver = Driver::start(&artifacts);
    let email = new_address("owner");
    let page = driver.open("owner", &artifacts).await;

    // Nobody is signed in: the page offers the account form.
    page.goto(&server.base).await;
    wait_for_view(&page, "signin").await;
    assert!(
        !page.is_displayed("#token-input").await,
        "the token box is for developers only"
    );
    page.screenshot("01-sign-in-form.png").await;

    // Sign-up: a password that breaks the rules is refused by the page, and nothing is sent.
    click(&page, "[data-goto='register']").await;
    wait_for_view(&page, "register").await;
    fill(&page, "#account-email", &email).await;
    fill(&page, "#account-password", "lunch2026").await;
    submit(&page).await;
    let refusal = page
        .wait_text(
            "#signin-message",
            "the password needs at least 12 characters",
        )
        .await;
    assert!(refusal.contains("an upper-case letter"), "{refusal:?}");
    assert!(!refusal.contains("a digit"), "{refusal:?}");
    assert_eq!(requests_to(&page, "/auth/register").await, 0);
    page.screenshot("02-weak-password-refused.png").await;

    fill(&page, "#account-password", PASSWORD).await;
    assert_eq!(
        page.count(".password-rules li[data-ok='true']").await,
        4,
        "every rule is ticked off"
    );
    submit(&page).await;
    wait_for_view(&page, "confirm").await;
    page.wait_text("#signin-note", "we have emailed it a code")
        .await;
    page.screenshot("03-code-sent.png").await;

    // The code from the real SMTP server confirms the account.
    let code = emailed_code(&sink, &email, "confirmation").await;
    fill(&page, "#account-code", &code).await;
    submit(&page).await;
    wait_for_view(&page, "signin").await;
    page.wait_text("#signin-note", "confirmed").await;
    page.screenshot("04-confirmed.png").await;

    // Sign-in: the address is still there; the account belongs to no restaurant yet.
    let typed = page
        .js(
            "return document.querySelector('#account-email').value;",
            vec![],
        )
        .await;
    assert_eq!(typed, json!(email));
    fill(&page, "#account-password", PASSWORD).await;
    submit(&page).await;
    page.wait_displayed("#no-restaurant").await;
    page.wait_text("#session-user", &email).await;
    page.screenshot("05-signed-in-no-restaurant.png").await;
    let session = stored_session(&page).await;
    let sub = session["claims"]["sub"].as_str().expect("a sub").to_owned();
    assert_eq!(session["claims"]["email"], json!(email));
    assert_eq!(session["claims"]["cognito:groups"], json!(["owners"]));
    let refresh_token = session["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    assert!(session["access_token"].is_string(), "{session}");

    // An admin adds the account to a restaurant; the page, reloaded, keeps the session.
    server
        .create_restaurant("bistro-konto", "Bistro Konto", &[&sub])
        .await;
    page.goto(&server.base).await;
    assert_eq!(wait_for_slots(&page).await, "Bistro Konto");
    page.screenshot("06-member-of-a-restaurant.png").await;

    let files = tempfile::tempdir().unwrap();
    upload_logo(&page, files.path()).await;
    page.screenshot("07-logo-in-review.png").await;

    // An ID token the server refuses (its signature spoilt): the page refreshes the session
    // once and carries on, rather than signing out.
    let spoilt = page
        .js(
            "const session = JSON.parse(sessionStorage.getItem('vetted.session.owner'));
             const token = session.id_token;
             session.id_token = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
             sessionStorage.setItem('vetted.session.owner', JSON.stringify(session));
             return session.id_token;",
            vec![],
        )
        .await;
    page.goto(&server.base).await;
    assert_eq!(wait_for_slots(&page).await, "Bistro Konto");
    assert!(!page.is_displayed("#signin").await);
    let renewed = stored_session(&page).await;
    assert_ne!(renewed["id_token"], spoilt, "the refused token was kept");
    assert_eq!(renewed["refresh_token"], json!(refresh_token));
    assert_eq!(requests_to(&page, "/auth/refresh").await, 1);

    // Sign-out ends the session on the server too: the refresh token is refused afterwards.
    click(&page, "#signout").await;
    wait_for_view(&page, "signin").await;
    page.wait_text("#signin-note", "You have signed out").await;
    assert!(!page.is_displayed("#app").await);
    assert_eq!(stored_session(&page).await, Value::Null);
    page.screenshot("08-signed-out.png").await;
    let (status, body) = post(
        &server,
        "/auth/refresh",
        json!({ "refresh_token": refresh_token }),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["reason"], "invalid_refresh_token");

    // A tab that still held that session, with an ID token the server refuses, cannot renew
    // it any more: the page shows the sign-in form and the API's words.
    page.js(
        "const [session, spoilt] = arguments;
         sessionStorage.setItem('vetted.session.owner',
           JSON.stringify({ ...session, id_token: spoilt, claims: undefined }));",
        vec![renewed.clone(), spoilt.clone()],
    )
    .await;
    page.goto(&server.base).await;
    wait_for_view(&page, "signin").await;
    page.wait_text("#signin-message", "the session has ended")
        .await;
    assert!(!page.is_displayed("#app").await);
    assert_eq!(stored_session(&page).await, Value::Null);
    page.screenshot("09-ended-session-not-renewed.png").await;

    page.close().await;
}

/// Uploads a square PNG to the logo slot and waits until it is in review.
async fn upload_logo(page: &Page, dir: &Path) {
    choose_slot(page, "logo").await;
    let png = dir.join("konto-logo.png");
    std::fs::write(&png, images::png(600, 600)).unwrap();
    pick_file(page, &png).await;
    let upload_id = wait_for_row(page, "konto-logo.png").await;
    let row = wait_for_status(page, &upload_id, "IN_REVIEW").await;
    assert!(row.contains("Bistro Konto"), "{row:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_with_the_emailed_code() {
    let artifacts = artifacts_dir("password-reset");
    let dir = tempfile::tempdir().unwrap();
    let (server, sink) = server_with_smtp(&dir).await;
    let driver = Driver::start(&artifacts);
    let email = new_address("forgetful");

    // An account, made through the API.
    let (status, body) = post(
        &server,
        "/auth/register",
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let code = emailed_code(&sink, &email, "confirmation").await;
    let (status, body) = post(
        &server,
        "/auth/confirm",
        json!({ "email": email, "code": code }),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Forgot: the page asks for the address and sends a code.
    let page = driver.open("owner", &artifacts).await;
    page.goto(&server.base).await;
    wait_for_view(&page, "signin").await;
    click(&page, "[data-goto='forgot']").await;
    wait_for_view(&page, "forgot").await;
    fill(&page, "#account-email", &email).await;
    page.screenshot("01-forgot.png").await;
    submit(&page).await;
    wait_for_view(&page, "reset").await;
    page.wait_text("#signin-note", "emailed it a code").await;
    let code = emailed_code(&sink, &email, "password reset").await;

    // A wrong code is refused in the API's words; the right one changes the password.
    let wrong: String = code
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                if c == '9' { '0' } else { '9' }
            } else {
                c
            }
        })
        .collect();
    fill(&page, "#account-code", &wrong).await;
    fill(&page, "#account-password", NEW_PASSWORD).await;
    submit(&page).await;
    page.wait_text("#signin-message", "the code is wrong or has expired")
        .await;
    page.screenshot("02-wrong-code.png").await;
    fill(&page, "#account-code", &code).await;
    fill(&page, "#account-password", NEW_PASSWORD).await;
    page.screenshot("03-code-and-new-password.png").await;
    submit(&page).await;
    wait_for_view(&page, "signin").await;
    page.wait_text("#signin-note", "password is changed").await;
    page.screenshot("04-password-changed.png").await;

    // The old password no longer works, and the page says so in the API's words.
    fill(&page, "#account-password", PASSWORD).await;
    submit(&page).await;
    page.wait_text(
        "#signin-message",
        "the email address or the password is wrong",
    )
    .await;
    assert!(!page.is_displayed("#app").await);
    page.screenshot("05-old-password-refused.png").await;

    // The new one signs in.
    fill(&page, "#account-password", NEW_PASSWORD).await;
    submit(&page).await;
    page.wait_displayed("#no-restaurant").await;
    page.wait_text("#session-user", &email).await;
    page.screenshot("06-signed-in-with-the-new-password.png")
        .await;

    // The console takes the same sign-in, and turns an owner's account away in words.
    page.goto(&format!("{}/moderate", server.base)).await;
    wait_for_view(&page, "signin").await;
    fill(&page, "#account-email", &email).await;
    fill(&page, "#account-password", NEW_PASSWORD).await;
    submit(&page).await;
    let refusal = page
        .wait_text("#signin-message", "This account is not a moderator's")
        .await;
    assert!(refusal.contains("It is an owner's"), "{refusal:?}");
    page.screenshot("07-console-refuses-an-owner.png").await;

    // Back on the owner page the session is still there; signing out ends it.
    page.goto(&server.base).await;
    page.wait_displayed("#no-restaurant").await;
    click(&page, "#signout").await;
    wait_for_view(&page, "signin").await;
    page.wait_text("#signin-note", "You have signed out").await;
    page.close().await;
}
