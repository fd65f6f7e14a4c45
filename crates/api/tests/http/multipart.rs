//! Multipart uploads through the API, sent to the app's own upload endpoint as a browser would
//! send them: the parts are listed to resume, each part's URL is pinned to its length and
//! SHA-256, completion needs every planned part, and every refusal of the new routes.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vetted_api::ApiSettings;
use vetted_core::ports::{MultipartError, MultipartUploads, ObjectStore, Uploads, WorkQueue};
use vetted_core::{ContentSha256, UploadId};

use crate::app::{AppOptions, TestApp, assert_error, png_request, spawn_with};
use crate::schemas::assert_matches;

const MIB: u64 = 1024 * 1024;
/// The smallest part S3 takes, so that the files here stay small.
const PART: u64 = 5 * MIB;

async fn multipart_app() -> TestApp {
    spawn_with(AppOptions {
        sign_for_own_endpoint: true,
        settings: ApiSettings {
            multipart_part_bytes: PART,
            ..ApiSettings::default()
        },
        ..AppOptions::default()
    })
    .await
}

/// `size` bytes that differ from part to part, so that a part sent in another's place is
/// caught by its hash.
fn file(size: u64) -> Vec<u8> {
    (0..size).map(|i| (i * 31 % 251) as u8).collect()
}

fn sha256_base64(bytes: &[u8]) -> String {
    ContentSha256::from_digest(Sha256::digest(bytes).into()).to_base64()
}

fn part(file: &[u8], number: u32) -> &[u8] {
    let start = (u64::from(number) - 1) * PART;
    let end = (start + PART).min(file.len() as u64);
    &file[start as usize..end as usize]
}

async fn create_multipart(app: &TestApp, size: u64) -> String {
    let mut request = png_request(size);
    request["method"] = json!("multipart");
    let (status, body) = app.create(&app.owner(crate::app::OWNER), request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_matches("create-upload-response.json", &body);
    body["upload_id"].as_str().unwrap().to_owned()
}

async fn sign(app: &TestApp, id: &str, parts: &[(u32, &[u8])]) -> Vec<Value> {
    let request = json!({"parts": parts
        .iter()
        .map(|(number, bytes)| json!({"number": number, "sha256": sha256_base64(bytes)}))
        .collect::<Vec<_>>()});
    assert_matches("sign-parts-request.json", &request);
    let (status, body) = app
        .post(
            &app.owner(crate::app::OWNER),
            &format!("/api/uploads/{id}/parts"),
            &request.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_matches("signed-parts.json", &body);
    body["parts"].as_array().unwrap().clone()
}

/// Sends `bytes` as a signed part; the endpoint's status.
async fn send(app: &TestApp, signed: &Value, bytes: &[u8]) -> StatusCode {
    send_with_length(app, signed, bytes, true).await
}

/// Sends `bytes` with the signed headers, the signed `content-length` only when
/// `signed_length` (else the body's own length goes, as a client sending a short part would).
async fn send_with_length(
    app: &TestApp,
    signed: &Value,
    bytes: &[u8],
    signed_length: bool,
) -> StatusCode {
    let mut request = app.http.put(signed["url"].as_str().unwrap());
    for (name, value) in signed["headers"].as_object().unwrap() {
        if name == "content-length" && !signed_length {
            continue;
        }
        request = request.header(name, value.as_str().unwrap());
    }
    let response = request.body(bytes.to_vec()).send().await.unwrap();
    response.status()
}

async fn listed(app: &TestApp, id: &str) -> Value {
    let (status, body) = app
        .get(
            &app.owner(crate::app::OWNER),
            &format!("/api/uploads/{id}/parts"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_matches("part-list.json", &body);
    body
}

async fn complete(app: &TestApp, id: &str) -> (StatusCode, Value) {
    app.post(
        &app.owner(crate::app::OWNER),
        &format!("/api/uploads/{id}/complete"),
        "",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_upload_resumes_from_its_listed_parts_and_completes_once() {
    let app = multipart_app().await;
    let bytes = file(2 * PART + 123);
    let id = create_multipart(&app, bytes.len() as u64).await;
    let (_, created) = app
        .get(&app.owner(crate::app::OWNER), &format!("/api/uploads/{id}"))
        .await;
    assert_eq!(created["method"], "multipart");

    // Two parts go up; then the connection is lost.
    let signed = sign(&app, &id, &[(1, part(&bytes, 1)), (2, part(&bytes, 2))]).await;
    assert_eq!(signed[0]["size"], PART);
    for (number, signed) in [1, 2].into_iter().zip(&signed) {
        assert_eq!(
            send(&app, signed, part(&bytes, number)).await,
            StatusCode::OK
        );
    }
    assert_error(
        &complete(&app, &id).await,
        StatusCode::CONFLICT,
        "parts_missing",
    );

    // Resuming: the list says what is there, so only the last part is sent.
    let list = listed(&app, &id).await;
    assert_eq!(
        (list["part_size"].as_u64(), list["part_count"].as_u64()),
        (Some(PART), Some(3))
    );
    let held: Vec<(u64, u64)> = list["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["number"].as_u64().unwrap(), p["size"].as_u64().unwrap()))
        .collect();
    assert_eq!(held, [(1, PART), (2, PART)]);
    assert_eq!(list["parts"][1]["sha256"], sha256_base64(part(&bytes, 2)));
    let last = sign(&app, &id, &[(3, part(&bytes, 3))]).await;
    assert_eq!(last[0]["size"], 123);
    assert_eq!(send(&app, &last[0], part(&bytes, 3)).await, StatusCode::OK);

    let (status, upload) = complete(&app, &id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{upload}");
    assert_matches("upload.json", &upload);
    assert_eq!(upload["status"], "AWAITING_UPLOAD");
    let record = app
        .uploads
        .get(&UploadId::parse(&id).unwrap())
        .await
        .unwrap();
    assert_eq!(app.objects.get(&record.key).await.unwrap(), bytes);
    let announced = app.intake_queue.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(announced.len(), 1, "one ObjectCreated notification");
    assert!(
        announced[0]
            .body
            .contains("ObjectCreated:CompleteMultipartUpload"),
        "{}",
        announced[0].body
    );

    // A client that lost the answer asks again: the same answer, and no second object.
    let (again, _) = complete(&app, &id).await;
    assert_eq!(again, StatusCode::ACCEPTED);
    app.clock.advance(Duration::from_secs(120));
    assert!(
        app.intake_queue
            .receive(10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_refuses_a_part_that_is_not_the_one_signed() {
    let app = multipart_app().await;
    let bytes = file(PART + 10);
    let id = create_multipart(&app, bytes.len() as u64).await;
    let signed = sign(&app, &id, &[(1, part(&bytes, 1))]).await;
    let mut other = part(&bytes, 1).to_vec();
    other[7] ^= 1;
    assert_eq!(
        send(&app, &signed[0], &other).await,
        StatusCode::BAD_REQUEST,
        "same length, another SHA-256"
    );
    let short = &part(&bytes, 1)[..1000];
    assert_eq!(
        send_with_length(&app, &signed[0], short, false).await,
        StatusCode::FORBIDDEN,
        "another length breaks the signature"
    );
    assert_eq!(listed(&app, &id).await["parts"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawing_a_multipart_upload_aborts_it_in_the_store() {
    let app = multipart_app().await;
    let bytes = file(PART + 10);
    let id = create_multipart(&app, bytes.len() as u64).await;
    let signed = sign(&app, &id, &[(1, part(&bytes, 1))]).await;
    assert_eq!(
        send(&app, &signed[0], part(&bytes, 1)).await,
        StatusCode::OK
    );
    let record = app
        .uploads
        .get(&UploadId::parse(&id).unwrap())
        .await
        .unwrap();
    let multipart = record
        .multipart_upload_id
        .clone()
        .expect("kept on the record");
    let (status, body) = app
        .post(
            &app.owner(crate::app::OWNER),
            &format!("/api/uploads/{id}/withdraw"),
            "",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(matches!(
        app.endpoint.list_parts(&record.key, &multipart).await,
        Err(MultipartError::NoSuchUpload)
    ));
    assert_error(
        &app.get(
            &app.owner(crate::app::OWNER),
            &format!("/api/uploads/{id}/parts"),
        )
        .await,
        StatusCode::CONFLICT,
        "not_awaiting_upload",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parts_routes_refuse_strangers_other_methods_and_bad_requests() {
    let app = multipart_app().await;
    let owner = app.owner(crate::app::OWNER);
    let bytes = file(2 * PART + 1);
    let id = create_multipart(&app, bytes.len() as u64).await;
    let parts = format!("/api/uploads/{id}/parts");
    let done = format!("/api/uploads/{id}/complete");
    let one =
        json!({"parts": [{"number": 1, "sha256": sha256_base64(part(&bytes, 1))}]}).to_string();

    // No token, or a moderator's: refused before anything is looked up.
    let anonymous = app.http.get(app.url(&parts)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let anonymous = app.http.post(app.url(&done)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let moderator = app.moderator("mod-1");
    assert_error(
        &app.get(&moderator, &parts).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &app.post(&moderator, &parts, &one).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    // Another restaurant's owner, a staff member of this one, and an unknown id: all 404.
    app.restaurant("r2", "owner-2").await;
    app.join("staff-1").await;
    for stranger in [app.owner("owner-2"), app.owner("staff-1")] {
        assert_error(
            &app.get(&stranger, &parts).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        assert_error(
            &app.post(&stranger, &parts, &one).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        assert_error(
            &app.post(&stranger, &done, "").await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    let unknown = format!("/api/uploads/{}/parts", UploadId::generate());
    assert_error(
        &app.get(&owner, &unknown).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.get(&owner, "/api/uploads/not-an-id/parts").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // An upload asked for with another method has no parts.
    let (status, post) = app.create(&owner, png_request(100)).await;
    assert_eq!(status, StatusCode::CREATED, "{post}");
    let post_parts = format!("/api/uploads/{}/parts", post["upload_id"].as_str().unwrap());
    assert_error(
        &app.get(&owner, &post_parts).await,
        StatusCode::CONFLICT,
        "not_multipart",
    );
    assert_error(
        &app.post(&owner, &post_parts, &one).await,
        StatusCode::CONFLICT,
        "not_multipart",
    );

    // Malformed requests to sign.
    let sha = sha256_base64(b"x");
    let bad = [
        (json!({"parts": [{"number": 0, "sha256": sha}]}).to_string(), "invalid_part_number"),
        (json!({"parts": [{"number": 4, "sha256": sha}]}).to_string(), "invalid_part_number"),
        (json!({"parts": [{"number": 1, "sha256": sha}, {"number": 1, "sha256": sha}]}).to_string(), "invalid_part_number"),
        (json!({"parts": [{"number": 1, "sha256": "abc"}]}).to_string(), "invalid_sha256"),
        (json!({"parts": []}).to_string(), "invalid_request"),
        (json!({"parts": (1..=101).map(|n| json!({"number": n, "sha256": sha})).collect::<Vec<_>>()}).to_string(), "invalid_request"),
        (json!({"parts": [{"number": 1, "sha256": sha, "size": 5}]}).to_string(), "unknown_field"),
        ("{\"parts\": [".to_owned(), "invalid_json"),
    ];
    for (body, reason) in bad {
        assert_error(
            &app.post(&owner, &parts, &body).await,
            StatusCode::BAD_REQUEST,
            reason,
        );
    }
    let huge = format!("{{\"parts\": [], \"pad\": \"{}\"}}", "x".repeat(70 * 1024));
    assert_error(
        &app.post(&owner, &parts, &huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );

    // A whole-file SHA-256 is not pinned on a multipart upload: each part's is.
    let mut pinned = png_request(100);
    pinned["method"] = json!("multipart");
    pinned["sha256"] = json!(sha);
    assert_error(
        &app.create(&owner, pinned).await,
        StatusCode::BAD_REQUEST,
        "invalid_sha256",
    );

    // Past its expiry the intent takes no more parts.
    app.clock
        .advance(ApiSettings::default().multipart_expires_in + Duration::from_secs(120));
    assert_error(
        &app.post(&owner, &parts, &one).await,
        StatusCode::GONE,
        "intent_expired",
    );
    assert_error(
        &app.post(&owner, &done, "").await,
        StatusCode::GONE,
        "intent_expired",
    );
}
