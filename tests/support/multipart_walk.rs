//! A resumable upload of a 30 MiB photo, on whichever backend the server runs (issue 16's
//! second item): the client asks for a multipart upload, sends two parts through the signed
//! URLs and is cut off; a new client (after a reload, say) lists the parts the store holds,
//! sends only the rest, and completes. The upload then goes through intake to review as any
//! other, with the whole file's size and SHA-256 on its record.
//!
//! The gallery's policy admits 40 MiB ([`CONFIG`]), and the photo is film grain, so that it is
//! a real 30 MiB JPEG the sanitizer decodes whole.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vetted_samples::images;

use super::client::Api;
use super::server::Server;
use super::wait_for_status;

pub const RESTAURANT: &str = "multipart-walk";
pub const OWNER: &str = "owner-multipart-walk";
const MIB: usize = 1024 * 1024;
/// The settings file the server must be started with.
pub const CONFIG: &str = "[policy.gallery]\nmax_bytes = 41943040\n";

fn base64_sha256(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

async fn call(
    api: &Api,
    server: &Server,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}{path}", server.base);
    let request = match &body {
        Some(body) => api.http().post(url).json(body),
        None => api.http().get(url),
    };
    let response = request.bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Signs and sends the parts numbered `numbers` of `photo`.
async fn send_parts(
    api: &Api,
    server: &Server,
    token: &str,
    id: &str,
    photo: &[u8],
    part_size: usize,
    numbers: &[u64],
) {
    let chunk = |number: u64| {
        let start = (number as usize - 1) * part_size;
        &photo[start..(start + part_size).min(photo.len())]
    };
    let request = json!({"parts": numbers
        .iter()
        .map(|n| json!({"number": n, "sha256": base64_sha256(chunk(*n))}))
        .collect::<Vec<_>>()});
    let (status, signed) = call(
        api,
        server,
        token,
        &format!("/api/uploads/{id}/parts"),
        Some(request),
    )
    .await;
    assert_eq!(status, 200, "{signed}");
    for part in signed["parts"].as_array().unwrap() {
        let number = part["number"].as_u64().unwrap();
        let mut put = api.http().put(part["url"].as_str().unwrap());
        for (name, value) in part["headers"].as_object().unwrap() {
            put = put.header(name, value.as_str().unwrap());
        }
        let response = put.body(chunk(number).to_vec()).send().await.unwrap();
        let status = response.status().as_u16();
        assert_eq!(
            status,
            200,
            "part {number}: {}",
            response.text().await.unwrap_or_default()
        );
    }
}

/// Runs the walk.
pub async fn interrupted_and_resumed(server: &Server) {
    let owner = server.token(OWNER, "owner");
    server.restaurant(RESTAURANT, &[OWNER]).await;
    let photo = images::grainy_jpeg(4200, 3200);
    assert!(
        (30 * MIB..40 * MIB).contains(&photo.len()),
        "the photo is {} bytes",
        photo.len()
    );

    let first_client = Api::new();
    let asked = first_client
        .request_upload(
            &server.base,
            &owner,
            &format!("{RESTAURANT}/gallery-1"),
            "harbour.jpg",
            "image/jpeg",
            photo.len(),
            "multipart",
        )
        .await
        .unwrap();
    assert_eq!(asked.status, 201, "{}", asked.body);
    let id = asked.body["upload_id"].as_str().unwrap().to_owned();
    let part_size = asked.body["multipart"]["part_size"].as_u64().unwrap() as usize;
    let part_count = asked.body["multipart"]["part_count"].as_u64().unwrap();
    assert!(part_count >= 4, "{}", asked.body);
    send_parts(
        &first_client,
        server,
        &owner,
        &id,
        &photo,
        part_size,
        &[1, 2],
    )
    .await;
    drop(first_client);

    // Another client picks it up: only what the store lacks is sent.
    let second_client = Api::new();
    let (status, listed) = call(
        &second_client,
        server,
        &owner,
        &format!("/api/uploads/{id}/parts"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    let held: Vec<u64> = listed["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|part| part["number"].as_u64().unwrap())
        .collect();
    assert_eq!(held, [1, 2], "{listed}");
    let rest: Vec<u64> = (3..=part_count).collect();
    send_parts(
        &second_client,
        server,
        &owner,
        &id,
        &photo,
        part_size,
        &rest,
    )
    .await;
    let (status, completed) = call(
        &second_client,
        server,
        &owner,
        &format!("/api/uploads/{id}/complete"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 202, "{completed}");

    let upload = wait_for_status(&second_client, &server.base, &owner, &id, "IN_REVIEW").await;
    assert_eq!(upload["method"], "multipart", "{upload}");
    assert_eq!(upload["bytes"], json!(photo.len()), "{upload}");
    assert_eq!(upload["sha256"], json!(base64_sha256(&photo)), "{upload}");
    assert_eq!(
        (upload["width"].as_u64(), upload["height"].as_u64()),
        (Some(4200), Some(3200))
    );
}
