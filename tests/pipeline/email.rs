//! Owner emails on one machine, end to end: `vetted serve` with `[mail.smtp]` pointing at a
//! real SMTP server (aiosmtpd, `scripts/smtp_sink.py`), owners who opt in through
//! `PUT /api/me/notifications` with their own tokens, and uploads that are declined, rejected
//! and published. Every event of those uploads is then handed over by the outbox two more
//! times (its rows made pending again in the database), and the sink must still hold exactly
//! one message per opted-in owner and transition, with the words, link and escaping checked.
//!
//! Escalations likewise: a moderator who subscribed through `PUT /api/me/escalations` gets one
//! email per escalation level of a review nobody takes, however often the events are handed
//! over; a moderator who did not subscribe gets none.

use std::time::Duration;

use serde_json::json;

use crate::support::client::Api;
use crate::support::server::{ServeSettings, Server};
use crate::support::smtp::{Received, SmtpSink};
use crate::support::{db, eventually, wait_for_status};
use vetted_samples::{hostile, images};

const RESTAURANT: &str = "anna-mail";
const NAME: &str = "Anna's <Bistro> & Bar";
const OPTED_IN: [&str; 2] = ["owner-mail-a", "owner-mail-b"];
const SILENT: &str = "owner-mail-c";

fn address(user: &str) -> String {
    format!("{user}@owners.example")
}

/// A part's text as the reader sees it: quoted-printable undone when the message uses it.
fn readable(raw: &str) -> String {
    if !raw.contains("quoted-printable") {
        return raw.to_owned();
    }
    let joined = raw.replace("=\r\n", "");
    let mut out = Vec::with_capacity(joined.len());
    let bytes = joined.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'=' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn put_preference(
    api: &Api,
    base: &str,
    token: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let response = api
        .http()
        .put(format!("{base}/api/me/notifications"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Makes every outbox event of `uploads` pending again and waits until the outbox has handed
/// each over once more.
async fn redeliver(data: &std::path::Path, uploads: &[String]) {
    let conn = rusqlite::Connection::open(data.join("vetted.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let list = uploads
        .iter()
        .map(|u| format!("'{u}'"))
        .collect::<Vec<_>>()
        .join(",");
    let reset = conn
        .execute(
            &format!(
                "UPDATE outbox_events SET delivered_at = NULL, next_attempt_at = 0
                 WHERE upload_id IN ({list})"
            ),
            [],
        )
        .unwrap();
    assert!(reset >= uploads.len(), "{reset} events made pending again");
    let reader = db::open(data);
    eventually(
        Duration::from_secs(60),
        Duration::from_millis(100),
        "the outbox handing the events over again",
        || async {
            let pending: i64 = reader
                .query_row(
                    &format!(
                        "SELECT count(*) FROM outbox_events
                         WHERE delivered_at IS NULL AND upload_id IN ({list})"
                    ),
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| e.to_string())?;
            if pending == 0 {
                Ok(())
            } else {
                Err(format!("{pending} pending"))
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_outcome_emails_each_opted_in_owner_once_however_often_it_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start(&dir.path().join("sink")).await;
    let data = dir.path().join("data");
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "[mail]\nfrom = \"Vetted <vetted@serve.example>\"\npublic_url = \"https://vetted.example/app\"\n\
             [mail.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
            sink.port
        ),
    )
    .unwrap();
    let server = Server::start(ServeSettings {
        config: Some(config),
        ..ServeSettings::unscanned(&data)
    })
    .await;
    let base = server.base.clone();
    let api = Api::new();
    server
        .admin_post(
            "/api/restaurants",
            json!({"id": RESTAURANT, "name": NAME, "owners": [OPTED_IN[0], OPTED_IN[1], SILENT]}),
        )
        .await;
    for user in OPTED_IN {
        let token = server.owner_with_email(user, &address(user));
        let (status, body) = put_preference(&api, &base, &token, json!({"enabled": true})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["address"], address(user));
    }
    // A third owner's token has an address, but they never opt in.
    let _ = server.owner_with_email(SILENT, &address(SILENT));
    let owner = server.token(OPTED_IN[0], "owner");
    let moderator = server.token("moderator-mail", "moderator");
    let slot = |name: &str| format!("{RESTAURANT}/{name}");

    let declined = api
        .upload_file(
            &base,
            &owner,
            &slot("gallery-3"),
            "blurry.png",
            "image/png",
            images::png(96, 96),
            "put",
        )
        .await;
    let published = api
        .upload_file(
            &base,
            &owner,
            &slot("gallery-1"),
            "terrace.png",
            "image/png",
            images::png(200, 120),
            "post",
        )
        .await;
    let rejected = api
        .upload_file(
            &base,
            &owner,
            &slot("gallery-4"),
            "index.png",
            "image/png",
            hostile::html(),
            "post",
        )
        .await;
    for id in [&declined, &published] {
        wait_for_status(&api, &base, &owner, id, "IN_REVIEW").await;
    }
    let answer = api
        .decide(&base, &moderator, &declined, "decline", Some("low_quality"))
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let answer = api
        .decide(&base, &moderator, &published, "approve", None)
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    wait_for_status(&api, &base, &owner, &declined, "DECLINED").await;
    wait_for_status(&api, &base, &owner, &published, "PUBLISHED").await;
    wait_for_status(&api, &base, &owner, &rejected, "REJECTED").await;

    // Three outcomes, two owners who opted in.
    let expected = 3 * OPTED_IN.len();
    let first: Vec<Received> = eventually(
        Duration::from_secs(60),
        Duration::from_millis(100),
        "the owner emails in the SMTP sink",
        || async {
            let messages = sink.messages();
            if messages.len() >= expected {
                Ok(messages)
            } else {
                Err(format!("{} messages", messages.len()))
            }
        },
    )
    .await;
    let uploads = [declined.clone(), published.clone(), rejected.clone()];
    redeliver(&data, &uploads).await;
    redeliver(&data, &uploads).await;
    let messages = sink.messages();
    assert_eq!(
        messages.len(),
        expected,
        "one email per owner and transition after three deliveries: {:#?}",
        messages
            .iter()
            .map(|m| (&m.envelope_to, m.header("Subject")))
            .collect::<Vec<_>>()
    );
    assert_eq!(first.len(), expected);

    for user in OPTED_IN {
        let theirs: Vec<&Received> = messages
            .iter()
            .filter(|m| m.envelope_to == address(user))
            .collect();
        let subjects: Vec<String> = theirs
            .iter()
            .map(|m| m.header("Subject").unwrap())
            .collect();
        for wanted in [
            "Anna's <Bistro> & Bar: your new gallery image 3 was declined",
            "Anna's <Bistro> & Bar: your new gallery image 1 is live",
            "Anna's <Bistro> & Bar: your new gallery image 4 was not accepted",
        ] {
            assert_eq!(
                subjects.iter().filter(|s| *s == wanted).count(),
                1,
                "{user}: one {wanted:?} among {subjects:?}"
            );
        }
        for m in &theirs {
            assert_eq!(m.header("From").unwrap(), "Vetted <vetted@serve.example>");
            assert_eq!(m.header("To").unwrap(), address(user));
            assert!(m.raw.contains("multipart/alternative"), "{}", m.raw);
            assert!(m.raw.contains("text/plain") && m.raw.contains("text/html"));
        }
        let declined_mail = theirs
            .iter()
            .find(|m| m.header("Subject").unwrap().ends_with("was declined"))
            .unwrap();
        let body = readable(&declined_mail.raw);
        let link = format!("https://vetted.example/app/?restaurant={RESTAURANT}");
        assert!(
            body.contains("Why: The image's quality is too low"),
            "the decline reason in words, in the text part: {body}"
        );
        assert!(
            body.contains("The image&#39;s quality is too low"),
            "{body}"
        );
        assert!(!body.contains("low_quality"), "no code, only words: {body}");
        assert!(
            body.contains(&format!("\r\n{link}\r\n")),
            "the link in the text part: {body}"
        );
        assert!(
            body.contains(&format!("href=\"{link}\"")),
            "the link in the HTML part: {body}"
        );
        assert!(
            body.contains("Anna&#39;s &lt;Bistro&gt; &amp; Bar"),
            "the name escaped: {body}"
        );
        assert!(!body.contains("<Bistro>&"), "{body}");
        assert!(!body.contains("<title>Anna's <Bistro>"), "{body}");
        let rejected_mail = theirs
            .iter()
            .find(|m| m.header("Subject").unwrap().ends_with("was not accepted"))
            .unwrap();
        assert!(
            readable(&rejected_mail.raw).contains("The file is not a JPEG, PNG or WebP image."),
            "{}",
            rejected_mail.raw
        );
    }
    assert!(
        !messages.iter().any(|m| m.envelope_to.contains(SILENT)),
        "an owner who did not opt in gets nothing"
    );
    server.stop().await;
}

/// `serve --demo` without mail settings: the demo owner is opted in, and the demo's refused
/// uploads leave `.eml` files in `{data}/outbox-mail/`, the place the banner names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_writes_its_mail_to_files_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(ServeSettings {
        demo: true,
        ..ServeSettings::unscanned(&data)
    })
    .await;
    let outbox = data.join("outbox-mail");
    assert_eq!(
        server.mail.as_deref(),
        Some(format!("files in {}", outbox.display()).as_str())
    );
    let mail = eventually(
        Duration::from_secs(120),
        Duration::from_millis(200),
        "a demo email in outbox-mail",
        || async {
            let files: Vec<_> = std::fs::read_dir(&outbox)
                .map_err(|e| e.to_string())?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect();
            match files.first() {
                Some(path) => std::fs::read_to_string(path).map_err(|e| e.to_string()),
                None => Err("no .eml yet".into()),
            }
        },
    )
    .await;
    assert!(mail.contains("To: demo-owner@example.com\r\n"), "{mail}");
    assert!(
        mail.contains("From: Vetted <vetted@localhost>\r\n"),
        "{mail}"
    );
    assert!(mail.contains("multipart/alternative"), "{mail}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_escalation_level_emails_each_subscribed_moderator_once() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start(&dir.path().join("sink")).await;
    let data = dir.path().join("data");
    let config = dir.path().join("serve.toml");
    // Escalations at 2 s and 4 s, expiry at 6 s.
    std::fs::write(
        &config,
        format!(
            "review_timeout_seconds = 6\nreview_escalation_percent = [34, 67]\n\
             [mail]\nfrom = \"Vetted <vetted@serve.example>\"\npublic_url = \"https://vetted.example/app\"\n\
             [mail.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
            sink.port
        ),
    )
    .unwrap();
    let server = Server::start(ServeSettings {
        config: Some(config),
        ..ServeSettings::unscanned(&data)
    })
    .await;
    let base = server.base.clone();
    let api = Api::new();
    server.restaurant(RESTAURANT, &["owner-esc"]).await;
    let subscribed = "mod-esc-ada";
    let ada = server.moderator_with_email(subscribed, &address(subscribed));
    let bo = server.moderator_with_email("mod-esc-bo", &address("mod-esc-bo"));
    let subscribe = |token: String, enabled: bool| {
        let (api, base) = (&api, &base);
        async move {
            let response = api
                .http()
                .put(format!("{base}/api/me/escalations"))
                .bearer_auth(token)
                .json(&json!({"enabled": enabled}))
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let (status, body) = subscribe(ada.clone(), true).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"enabled": true, "address": address(subscribed)})
    );
    // Bo subscribes and cancels: no email for Bo.
    assert_eq!(subscribe(bo.clone(), true).await.0, 200);
    let (status, body) = subscribe(bo, false).await;
    assert_eq!(
        (status, body),
        (200, json!({"enabled": false, "address": null}))
    );

    let owner = server.token("owner-esc", "owner");
    let waiting = api
        .upload_file(
            &base,
            &owner,
            &format!("{RESTAURANT}/gallery-2"),
            "late.png",
            "image/png",
            images::png(96, 96),
            "put",
        )
        .await;
    wait_for_status(&api, &base, &owner, &waiting, "EXPIRED").await;
    let escalations = |messages: &[Received]| {
        messages
            .iter()
            .filter(|m| {
                m.header("Subject")
                    .is_some_and(|s| s.starts_with("Review waiting"))
            })
            .count()
    };
    eventually(
        Duration::from_secs(60),
        Duration::from_millis(100),
        "both escalation emails in the SMTP sink",
        || async {
            let n = escalations(&sink.messages());
            if n >= 2 {
                Ok(())
            } else {
                Err(format!("{n} escalation emails"))
            }
        },
    )
    .await;
    redeliver(&data, std::slice::from_ref(&waiting)).await;
    let messages = sink.messages();
    let subjects: Vec<(String, Option<String>)> = messages
        .iter()
        .map(|m| (m.envelope_to.clone(), m.header("Subject")))
        .collect();
    assert_eq!(
        escalations(&messages),
        2,
        "one email per level: {subjects:#?}"
    );
    for level in [1, 2] {
        let m = messages
            .iter()
            .find(|m| {
                m.header("Subject")
                    .is_some_and(|s| s.ends_with(&format!("(level {level})")))
            })
            .unwrap_or_else(|| panic!("level {level} among {subjects:#?}"));
        assert_eq!(
            m.envelope_to,
            address(subscribed),
            "only the subscriber hears"
        );
        let text = readable(&m.raw);
        assert!(
            text.contains("https://vetted.example/app/moderate.html"),
            "links to the console: {text}"
        );
        assert!(text.contains(&waiting), "names the request: {text}");
        assert!(text.contains("subscribed to escalations"), "{text}");
    }
}
