//! Pinned checksums, on whichever backend the server runs (issue 16's first item): an owner
//! declares the file's SHA-256 when asking for the upload, by presigned POST, presigned PUT
//! and proxy in turn. A body with another SHA-256 (the same length, so only the checksum can
//! tell) is refused by the store, S3 (moto) or the embedded endpoint, or by the proxy, and the
//! upload stays `AWAITING_UPLOAD`. The right body then goes through, and the upload reaches
//! `IN_REVIEW` holding the checksum the store reported.
//!
//! The wrong body is an HTML page, which the gate would refuse: had it been stored, intake
//! would have claimed it first and the upload would end `REJECTED`, not `IN_REVIEW`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vetted_samples::images;

use super::client::{Api, Grant};
use super::server::Server;
use super::wait_for_status;

pub const RESTAURANT: &str = "checksum-walk";
pub const OWNER: &str = "owner-checksum-walk";

fn sha256_base64(bytes: &[u8]) -> String {
    BASE64.encode(Sha256::digest(bytes))
}

/// `len` bytes of a web page: what must never be stored under a PNG's checksum.
fn html_of_length(len: usize) -> Vec<u8> {
    let mut html = b"<!doctype html><html><body><script>alert(1)</script>".to_vec();
    html.resize(len, b' ');
    html
}

async fn request(api: &Api, server: &Server, owner: &str, body: &Value) -> (u16, Value) {
    let answer = api
        .request_upload_as(&server.base, owner, body)
        .await
        .unwrap();
    (answer.status, answer.body)
}

async fn status_of(api: &Api, server: &Server, owner: &str, id: &str) -> Value {
    api.upload(&server.base, owner, id).await.unwrap().body
}

/// Sends `bytes` to a proxy grant's URL (relative to the server).
async fn send_proxy(api: &Api, server: &Server, owner: &str, grant: &Grant, bytes: Vec<u8>) -> u16 {
    let response = api
        .http()
        .put(format!("{}{}", server.base, grant.url))
        .bearer_auth(owner)
        .header("content-type", "image/png")
        .body(bytes)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

/// Runs the walk; returns the ids of the three uploads, each `IN_REVIEW`.
pub async fn pinned_checksums(server: &Server) -> Vec<String> {
    let api = Api::new();
    let owner = server.token(OWNER, "owner");
    server.restaurant(RESTAURANT, &[OWNER]).await;

    // A checksum that is not the base64 of 32 bytes is refused before anything is signed.
    let (status, body) = request(
        &api,
        server,
        &owner,
        &json!({"restaurant": RESTAURANT, "slot": "gallery-1", "filename": "a.png",
                "content_type": "image/png", "size": 10, "sha256": "abc"}),
    )
    .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (400, Some("invalid_sha256")),
        "{body}"
    );

    let mut ids = Vec::new();
    for (position, method) in ["post", "put", "proxy"].into_iter().enumerate() {
        let png = images::png(640 + u32::try_from(position).unwrap(), 480);
        let pinned = sha256_base64(&png);
        let (status, body) = request(
            &api,
            server,
            &owner,
            &json!({"restaurant": RESTAURANT, "slot": format!("gallery-{}", position + 1),
                    "filename": "photo.png", "content_type": "image/png", "size": png.len(),
                    "method": method, "sha256": pinned}),
        )
        .await;
        assert_eq!(status, 201, "{method}: {body}");
        let grant = Grant::parse(&body);
        let id = grant.upload_id.clone();
        match method {
            "post" => {
                let names: Vec<&str> = grant.fields.iter().map(|(n, _)| n.as_str()).collect();
                assert!(
                    names.contains(&"x-amz-checksum-sha256"),
                    "{method}: {names:?}"
                );
            }
            "put" => assert!(
                grant
                    .headers
                    .iter()
                    .any(|(name, value)| name == "x-amz-checksum-sha256" && *value == pinned),
                "{method}: the PUT must sign the checksum header: {:?}",
                grant.headers
            ),
            _ => {}
        }

        let wrong = html_of_length(png.len());
        if method == "proxy" {
            let status = send_proxy(&api, server, &owner, &grant, wrong).await;
            assert_eq!(
                status, 400,
                "{method}: the proxy takes a body with another SHA-256"
            );
        } else {
            let refused = api.send_file(&grant, "photo.png", wrong).await.unwrap();
            assert_eq!(refused.status, 400, "{method}: {:?}", refused.body);
            assert!(
                refused.body.as_str().unwrap_or("").contains("BadDigest"),
                "{method}: S3's refusal names BadDigest: {:?}",
                refused.body
            );
        }
        let after = status_of(&api, server, &owner, &id).await;
        assert_eq!(after["status"], "AWAITING_UPLOAD", "{method}: {after}");
        assert_eq!(after["sha256"], pinned.as_str(), "{method}: {after}");

        if method == "proxy" {
            assert_eq!(send_proxy(&api, server, &owner, &grant, png).await, 201);
        } else {
            let sent = api.send_file(&grant, "photo.png", png).await.unwrap();
            assert!(
                (200..300).contains(&sent.status),
                "{method}: {:?}",
                sent.body
            );
        }
        let reviewed = wait_for_status(&api, &server.base, &owner, &id, "IN_REVIEW").await;
        assert_eq!(reviewed["sha256"], pinned.as_str(), "{method}: {reviewed}");
        ids.push(id);
    }
    ids
}
