//! Content-hash dedup, on whichever backend the server runs (issue 16's third item). The
//! gallery's policy says `known_content = "reuse"` ([`CONFIG`]); then:
//!
//! 1. bytes a moderator approved for a restaurant, uploaded again to another of its slots, are
//!    published with no moderator, and the history names the first upload;
//! 2. the same bytes for another restaurant are not: a moderator decides them;
//! 3. bytes declined at one restaurant, uploaded to another, are declined again with the
//!    original reason, and the history names the declined upload; bytes whose earlier
//!    decisions disagree (live here, declined elsewhere) go to a moderator;
//! 4. an admin bans a SHA-256 through the admin API: those bytes are refused as
//!    `banned_content`, whether the client pinned the hash (intake knows it) or not (on moto
//!    only sanitize learns it), even bytes that reuse would have published; unbanning works
//!    once.
//!
//! Uploads without a pinned hash go by presigned PUT: S3 (moto) reports no SHA-256 for them,
//! so there the digest reuse needs is the one sanitize computes.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vetted_samples::images;

use super::client::{Api, Grant};
use super::server::Server;
use super::wait_for_status;

pub const RESTAURANT: &str = "dedup-walk";
pub const OTHER: &str = "dedup-walk-other";
pub const OWNER: &str = "owner-dedup-walk";
/// The settings file the server must be started with.
pub const CONFIG: &str = "[policy.gallery]\nknown_content = \"reuse\"\n";

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn send(
    api: &Api,
    server: &Server,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = api
        .http()
        .request(method.parse().unwrap(), format!("{}{path}", server.base))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The upload's history entries as its owner sees them.
async fn history(api: &Api, server: &Server, owner: &str, id: &str) -> Vec<Value> {
    let (status, body) = send(
        api,
        server,
        owner,
        "GET",
        &format!("/api/uploads/{id}/history"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().cloned().unwrap_or_default()
}

fn reused_from(entries: &[Value]) -> Option<&str> {
    entries
        .iter()
        .find(|e| e["action"] == "reuse_decision")
        .and_then(|e| e["note"].as_str())
}

async fn decide(api: &Api, server: &Server, moderator: &str, id: &str, decision: &str) -> u16 {
    let reason = (decision == "decline").then_some("copyright");
    api.decide(&server.base, moderator, id, decision, reason)
        .await
        .unwrap()
        .status
}

/// Runs the walk.
pub async fn reuse_and_ban(server: &Server) {
    let api = Api::new();
    let owner = server.token(OWNER, "owner");
    let moderator = server.token("mod-dedup-walk", "moderator");
    let admin = server.token("admin-dedup-walk", "admin");
    server.restaurant(RESTAURANT, &[OWNER]).await;
    server.restaurant(OTHER, &[OWNER]).await;
    let base = server.base.as_str();
    let slot = |restaurant: &str, slot: &str| format!("{restaurant}/{slot}");

    // 1. Approved once, published again without a moderator.
    let logo = images::png(700, 500);
    let first = api
        .upload_file(
            base,
            &owner,
            &slot(RESTAURANT, "gallery-1"),
            "a.png",
            "image/png",
            logo.clone(),
            "put",
        )
        .await;
    wait_for_status(&api, base, &owner, &first, "IN_REVIEW").await;
    assert_eq!(
        decide(&api, server, &moderator, &first, "approve").await,
        200
    );
    wait_for_status(&api, base, &owner, &first, "PUBLISHED").await;
    let again = api
        .upload_file(
            base,
            &owner,
            &slot(RESTAURANT, "gallery-2"),
            "b.png",
            "image/png",
            logo.clone(),
            "put",
        )
        .await;
    let published = wait_for_status(&api, base, &owner, &again, "PUBLISHED").await;
    assert_eq!(published["decision"], "approve", "{published}");
    assert_eq!(
        published["sha256"],
        json!(images_sha256(&logo)),
        "{published}"
    );
    let entries = history(&api, server, &owner, &again).await;
    let note = reused_from(&entries).unwrap_or_else(|| panic!("no reuse entry: {entries:?}"));
    assert!(note.contains(&first), "the history names {first}: {note}");
    assert!(
        !entries.iter().any(|e| e["action"] == "approve"),
        "no moderator approved it: {entries:?}"
    );

    // 2. The same bytes for another restaurant wait for a moderator, who decides them.
    let elsewhere = api
        .upload_file(
            base,
            &owner,
            &slot(OTHER, "gallery-2"),
            "c.png",
            "image/png",
            logo.clone(),
            "put",
        )
        .await;
    wait_for_status(&api, base, &owner, &elsewhere, "IN_REVIEW").await;
    assert_eq!(
        decide(&api, server, &moderator, &elsewhere, "decline").await,
        200,
        "a moderator decides bytes published only for another restaurant"
    );
    wait_for_status(&api, base, &owner, &elsewhere, "DECLINED").await;

    // 3. Declined at one restaurant, declined again at another with the original reason.
    let photo = images::png(710, 500);
    let declined_first = api
        .upload_file(
            base,
            &owner,
            &slot(OTHER, "gallery-3"),
            "d.png",
            "image/png",
            photo.clone(),
            "put",
        )
        .await;
    wait_for_status(&api, base, &owner, &declined_first, "IN_REVIEW").await;
    assert_eq!(
        decide(&api, server, &moderator, &declined_first, "decline").await,
        200
    );
    wait_for_status(&api, base, &owner, &declined_first, "DECLINED").await;
    let declined_again = api
        .upload_file(
            base,
            &owner,
            &slot(RESTAURANT, "gallery-3"),
            "e.png",
            "image/png",
            photo.clone(),
            "put",
        )
        .await;
    let declined = wait_for_status(&api, base, &owner, &declined_again, "DECLINED").await;
    assert_eq!(declined["decline_reason"], "copyright", "{declined}");
    let entries = history(&api, server, &owner, &declined_again).await;
    let note = reused_from(&entries).unwrap_or_else(|| panic!("no reuse entry: {entries:?}"));
    assert!(
        note.contains(&declined_first),
        "the history names {declined_first}: {note}"
    );

    // The first bytes are now both live here and declined elsewhere: a moderator decides.
    let disputed = api
        .upload_file(
            base,
            &owner,
            &slot(RESTAURANT, "gallery-7"),
            "f.png",
            "image/png",
            logo.clone(),
            "put",
        )
        .await;
    wait_for_status(&api, base, &owner, &disputed, "IN_REVIEW").await;
    assert_eq!(
        decide(&api, server, &moderator, &disputed, "approve").await,
        200,
        "a moderator decides bytes whose earlier decisions disagree"
    );
    wait_for_status(&api, base, &owner, &disputed, "PUBLISHED").await;

    // 4. A banned hash is refused, pinned or not, whatever reuse would have done.
    let banned = images::png(720, 500);
    let path = format!("/api/admin/banned/{}", hex(&banned));
    let (status, body) = send(&api, server, &owner, "PUT", &path, Some(json!({}))).await;
    assert_eq!(status, 403, "only admins ban: {body}");
    let (status, body) = send(
        &api,
        server,
        &admin,
        "PUT",
        &path,
        Some(json!({"note": "a leaked photo"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sha256_hex"], hex(&banned), "{body}");
    let (status, listed) = send(&api, server, &admin, "GET", "/api/admin/banned", None).await;
    assert_eq!(status, 200, "{listed}");
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["sha256_hex"] == hex(&banned) && e["note"] == "a leaked photo"),
        "{listed}"
    );
    let unpinned = api
        .upload_file(
            base,
            &owner,
            &slot(RESTAURANT, "gallery-4"),
            "h.png",
            "image/png",
            banned.clone(),
            "put",
        )
        .await;
    let refused = wait_for_status(&api, base, &owner, &unpinned, "REJECTED").await;
    assert_eq!(refused["reason"], "banned_content", "{refused}");
    let pinned = upload_pinned(
        &api,
        server,
        &owner,
        &slot(RESTAURANT, "gallery-5"),
        &banned,
    )
    .await;
    let refused = wait_for_status(&api, base, &owner, &pinned, "REJECTED").await;
    assert_eq!(refused["reason"], "banned_content", "{refused}");

    // Bytes published (and reusable) once banned are refused too.
    let logo_path = format!("/api/admin/banned/{}", hex(&logo));
    let (status, body) = send(&api, server, &admin, "PUT", &logo_path, Some(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    let after_ban = api
        .upload_file(
            base,
            &owner,
            &slot(RESTAURANT, "gallery-6"),
            "g.png",
            "image/png",
            logo.clone(),
            "put",
        )
        .await;
    let refused = wait_for_status(&api, base, &owner, &after_ban, "REJECTED").await;
    assert_eq!(refused["reason"], "banned_content", "{refused}");

    let (status, _) = send(&api, server, &admin, "DELETE", &logo_path, None).await;
    assert_eq!(status, 204, "the first unban removes it");
    let (status, body) = send(&api, server, &admin, "DELETE", &logo_path, None).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
}

fn images_sha256(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// Asks for a presigned POST pinned to the bytes' SHA-256 and sends them; returns the upload id.
async fn upload_pinned(
    api: &Api,
    server: &Server,
    owner: &str,
    slot: &str,
    bytes: &[u8],
) -> String {
    let (restaurant, slot) = slot.split_once('/').unwrap();
    let answer = api
        .request_upload_as(
            &server.base,
            owner,
            &json!({"restaurant": restaurant, "slot": slot, "filename": "pinned.png",
                    "content_type": "image/png", "size": bytes.len(), "method": "post",
                    "sha256": images_sha256(bytes)}),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    let grant = Grant::parse(&answer.body);
    let sent = api
        .send_file(&grant, "pinned.png", bytes.to_vec())
        .await
        .unwrap();
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    grant.upload_id
}
