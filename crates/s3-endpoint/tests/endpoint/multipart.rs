//! Multipart uploads through presigned URLs signed by boto3 and the Rust SDK: an upload
//! interrupted after two parts resumes from ListParts and completes; and every refusal
//! (checksum, order, size, ETag, upload id, key, signature, body) leaves nothing stored.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use serde_json::{Value, json};
use vetted_core::ports::ObjectStore;
use vetted_core::{ContentSha256, ObjectKey};
use vetted_s3_endpoint::multipart::MIN_PART_BYTES;

use super::harness::*;

const MIB: usize = 1024 * 1024;

/// The text of the first `<name>` element.
fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].to_owned())
}

/// Every `<name>` element's text, in order.
fn elements(xml: &str, name: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(text) = element(rest, name) {
        let close = format!("</{name}>");
        let at = rest.find(&close).unwrap() + close.len();
        found.push(text);
        rest = &rest[at..];
    }
    found
}

fn complete_xml(parts: &[(u32, String)]) -> String {
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (number, etag) in parts {
        xml.push_str(&format!(
            "<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>",
            etag.replace('"', "&quot;")
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    xml
}

/// A multipart upload driven over HTTP with boto3's presigned URLs.
struct Upload<'a> {
    app: &'a App,
    key: String,
    id: String,
}

impl<'a> Upload<'a> {
    /// Sends a boto3-signed CreateMultipartUpload for `key`.
    async fn send_create(app: &App, key: &str) -> reqwest::Response {
        let signed = app
            .boto(json!([{"kind": "create_multipart", "key": key,
                          "content_type": "image/jpeg", "expires": 300}]))
            .await;
        app.http
            .post(signed[0]["url"].as_str().unwrap())
            .header("content-type", "image/jpeg")
            .send()
            .await
            .unwrap()
    }

    async fn create(app: &'a App, key: &str) -> Upload<'a> {
        let response = Self::send_create(app, key).await;
        assert_eq!(response.status(), 200);
        let xml = response.text().await.unwrap();
        assert_eq!(element(&xml, "Key").as_deref(), Some(key));
        Upload {
            app,
            key: key.to_owned(),
            id: element(&xml, "UploadId").unwrap(),
        }
    }

    async fn sign(&self, kind: &str, extra: Value) -> String {
        let mut request = json!({"kind": kind, "key": self.key, "upload_id": self.id,
                                 "expires": 300});
        for (name, value) in extra.as_object().unwrap() {
            request[name] = value.clone();
        }
        self.app.boto(json!([request])).await[0]["url"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Sends part `number` pinned to `pinned_to`'s SHA-256; the status and the ETag.
    async fn put_part(&self, number: u32, body: &[u8], pinned_to: &[u8]) -> (u16, String) {
        let pinned = ContentSha256::of(pinned_to).to_base64();
        let url = self
            .sign(
                "upload_part",
                json!({"part_number": number, "checksum_sha256": pinned}),
            )
            .await;
        let response = self
            .app
            .http
            .put(url)
            .header("x-amz-checksum-sha256", &pinned)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        if status == 200 {
            (status, etag)
        } else {
            (status, error_code(&text))
        }
    }

    async fn list(&self) -> String {
        let url = self.sign("list_parts", json!({})).await;
        let response = self.app.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// Completes with `parts`; the status and the body.
    async fn complete(&self, parts: &[(u32, String)]) -> (u16, String) {
        self.complete_with(complete_xml(parts)).await
    }

    async fn complete_with(&self, xml: String) -> (u16, String) {
        let url = self.sign("complete_multipart", json!({})).await;
        let response = self.app.http.post(url).body(xml).send().await.unwrap();
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    }

    async fn abort(&self) -> u16 {
        let url = self.sign("abort_multipart", json!({})).await;
        self.app
            .http
            .delete(url)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

async fn spawn_large_app() -> App {
    spawn_app_with(|config| config.max_object_bytes = 32 * MIB as u64).await
}

#[tokio::test]
async fn an_upload_interrupted_after_two_parts_resumes_from_list_parts_and_completes() {
    let app = spawn_large_app().await;
    let key = incoming_key();
    let file = payload(30 * MIB);
    let (first, rest) = file.split_at(MIN_PART_BYTES as usize);
    let (second, third) = rest.split_at(MIN_PART_BYTES as usize);

    let upload = Upload::create(&app, &key).await;
    assert_eq!(upload.put_part(1, first, first).await.0, 200);
    assert_eq!(upload.put_part(2, second, second).await.0, 200);
    // The client is gone. Another one resumes from what the endpoint says it holds.
    let listed = upload.list().await;
    let numbers = elements(&listed, "PartNumber");
    let etags = elements(&listed, "ETag");
    assert_eq!(numbers, ["1", "2"]);
    assert_eq!(
        elements(&listed, "Size"),
        [MIN_PART_BYTES.to_string(), MIN_PART_BYTES.to_string()]
    );
    assert_eq!(
        elements(&listed, "ChecksumSHA256"),
        [
            ContentSha256::of(first).to_base64(),
            ContentSha256::of(second).to_base64()
        ]
    );
    let (status, third_etag) = upload.put_part(3, third, third).await;
    assert_eq!(status, 200);
    assert!(app.events().await.is_empty(), "announced before completion");

    let etags: Vec<String> = etags
        .iter()
        .map(|etag| etag.replace("&quot;", "\""))
        .collect();
    let parts = vec![
        (1, etags[0].clone()),
        (2, etags[1].clone()),
        (3, third_etag),
    ];
    let (status, body) = upload.complete(&parts).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(element(&body, "Key").as_deref(), Some(key.as_str()));

    let stored = app
        .store
        .get(&ObjectKey::parse(&key).unwrap())
        .await
        .unwrap();
    assert_eq!(stored.len(), file.len());
    assert!(
        stored[..] == file[..],
        "the object is not the parts in order"
    );
    let meta = app
        .store
        .head(&ObjectKey::parse(&key).unwrap())
        .await
        .unwrap();
    assert_eq!(meta.content_type.as_deref(), Some("image/jpeg"));
    let events = app.events().await;
    assert_eq!(events.len(), 1);
    let event: Value = serde_json::from_str(&events[0].body).unwrap();
    assert_eq!(
        event["Records"][0]["eventName"],
        "ObjectCreated:CompleteMultipartUpload"
    );
    assert_eq!(event["Records"][0]["s3"]["object"]["size"], file.len());
    // The upload is finished: its parts are gone and it cannot be completed again.
    assert_eq!(upload.complete(&parts).await.0, 404);
    assert!(app.spool_leftovers().is_empty());
    assert!(
        std::fs::read_dir(app.spool_dir.join("multipart"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[tokio::test]
async fn a_part_is_refused_unless_it_has_its_pinned_sha256_and_a_resent_part_replaces_it() {
    let app = spawn_large_app().await;
    let upload = Upload::create(&app, &incoming_key()).await;
    let good = payload(MIB);
    let mut bad = good.clone();
    bad[0] ^= 1;
    assert_eq!(
        upload.put_part(1, &bad, &good).await,
        (400, "BadDigest".to_owned())
    );
    assert!(elements(&upload.list().await, "PartNumber").is_empty());
    assert!(app.spool_leftovers().is_empty());

    let (_, old) = upload.put_part(1, &bad, &bad).await;
    let (_, new) = upload.put_part(1, &good, &good).await;
    assert_ne!(old, new);
    let listed = upload.list().await;
    assert_eq!(elements(&listed, "PartNumber"), ["1"]);
    assert_eq!(elements(&listed, "ETag"), [new.replace('"', "&quot;")]);
    // The replaced part's ETag no longer names anything.
    assert_eq!(
        error_code(&upload.complete(&[(1, old)]).await.1),
        "InvalidPart"
    );
    assert_eq!(upload.complete(&[(1, new)]).await.0, 200);
}

#[tokio::test]
async fn completion_refuses_wrong_order_small_parts_unknown_etags_too_much_and_bad_xml() {
    let app = spawn_app_with(|config| config.max_object_bytes = 12 * MIB as u64).await;
    let key = incoming_key();
    let upload = Upload::create(&app, &key).await;
    let big = payload(MIN_PART_BYTES as usize);
    let small = payload(1000);
    let (_, e1) = upload.put_part(1, &big, &big).await;
    let (_, e2) = upload.put_part(2, &small, &small).await;
    let (_, e3) = upload.put_part(3, &big, &big).await;
    let (_, e4) = upload.put_part(4, &big, &big).await;

    let cases: Vec<(Vec<(u32, String)>, &str)> = vec![
        (vec![(3, e3.clone()), (1, e1.clone())], "InvalidPartOrder"),
        (vec![(1, e1.clone()), (1, e1.clone())], "InvalidPartOrder"),
        (
            vec![(1, e1.clone()), (2, e2.clone()), (3, e3.clone())],
            "EntityTooSmall",
        ),
        (vec![(1, e2.clone())], "InvalidPart"),
        (vec![(5, e1.clone())], "InvalidPart"),
        (vec![(1, "\"nonsense\"".to_owned())], "InvalidPart"),
        (
            vec![(1, e1.clone()), (3, e3.clone()), (4, e4)],
            "EntityTooLarge",
        ),
        (vec![], "MalformedXML"),
    ];
    for (parts, code) in cases {
        let (status, body) = upload.complete(&parts).await;
        assert_eq!(status, 400, "{parts:?}: {body}");
        assert_eq!(error_code(&body), code, "{parts:?}");
    }
    for xml in [
        "<not-xml",
        "<Other/>",
        &"<CompleteMultipartUpload>".repeat(3),
    ] {
        let (status, body) = upload.complete_with(xml.to_owned()).await;
        assert_eq!(
            (status, error_code(&body)),
            (400, "MalformedXML".to_owned()),
            "{xml}"
        );
    }
    let (status, body) = upload.complete_with("x".repeat(3 * MIB)).await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "MalformedXML".to_owned())
    );
    // Nothing was stored or announced, and every part is still there to complete with.
    assert!(
        app.store
            .head(&ObjectKey::parse(&key).unwrap())
            .await
            .is_err()
    );
    assert!(app.events().await.is_empty());
    assert_eq!(
        elements(&upload.list().await, "PartNumber"),
        ["1", "2", "3", "4"]
    );
    let (status, body) = upload.complete(&[(1, e1), (2, e2)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.events().await.len(), 1);
    assert!(app.spool_leftovers().is_empty());
}

#[tokio::test]
async fn unknown_aborted_and_other_keys_uploads_are_no_such_upload() {
    let app = spawn_large_app().await;
    let upload = Upload::create(&app, &incoming_key()).await;
    let part = payload(100);

    // Another key's presigned URL with this upload's id.
    let stranger = Upload {
        app: &app,
        key: incoming_key(),
        id: upload.id.clone(),
    };
    assert_eq!(
        stranger.put_part(1, &part, &part).await,
        (404, "NoSuchUpload".to_owned())
    );
    // Ids the endpoint never issued, including ones that try to leave the directory.
    for id in ["0123456789abcdef0123456789abcdef", "../../etc", "ZZ"] {
        let forged = Upload {
            app: &app,
            key: upload.key.clone(),
            id: id.to_owned(),
        };
        assert_eq!(
            forged.put_part(1, &part, &part).await.1,
            "NoSuchUpload",
            "{id}"
        );
    }
    assert_eq!(upload.abort().await, 204);
    assert_eq!(
        upload.put_part(1, &part, &part).await,
        (404, "NoSuchUpload".to_owned())
    );
    assert_eq!(upload.abort().await, 404);
    assert!(app.events().await.is_empty());
}

#[tokio::test]
async fn multipart_requests_need_a_valid_signature_and_an_upload_key() {
    let app = spawn_large_app().await;
    // Only incoming/ keys may be written, multipart or not.
    let response = Upload::send_create(&app, "published/x/y.jpg").await;
    assert_eq!(response.status(), 403);
    assert_eq!(error_code(&response.text().await.unwrap()), "AccessDenied");

    let upload = Upload::create(&app, &incoming_key()).await;
    let url = upload.sign("upload_part", json!({"part_number": 1})).await;
    // The part number is signed: another one does not match the signature.
    let tampered = url.replace("partNumber=1", "partNumber=2");
    assert_ne!(tampered, url);
    let response = app.http.put(&tampered).body("x").send().await.unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        error_code(&response.text().await.unwrap()),
        "SignatureDoesNotMatch"
    );
    // Unsigned: anonymous access.
    let bare = format!(
        "{}/{BUCKET}/{}?partNumber=1&uploadId={}",
        app.endpoint_url(),
        upload.key,
        upload.id
    );
    let response = app.http.put(&bare).body("x").send().await.unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(error_code(&response.text().await.unwrap()), "AccessDenied");
    // Other sub-resources stay refused.
    let listing = format!("{}&versionId=1", url);
    let response = app.http.put(&listing).body("x").send().await.unwrap();
    assert_eq!(response.status(), 501);
    assert!(elements(&upload.list().await, "PartNumber").is_empty());
}

#[tokio::test]
async fn stale_uploads_are_aborted_by_the_maintenance_call() {
    let app = spawn_large_app().await;
    let upload = Upload::create(&app, &incoming_key()).await;
    let part = payload(100);
    assert_eq!(upload.put_part(1, &part, &part).await.0, 200);
    let endpoint = app.endpoint.clone();
    let long_ago = vetted_core::Timestamp::from_unix_millis(0);
    assert_eq!(endpoint.abort_stale_uploads(long_ago).await.unwrap(), 0);
    assert_eq!(elements(&upload.list().await, "PartNumber"), ["1"]);
    let later = vetted_core::Timestamp::from_unix_millis(i64::MAX);
    assert_eq!(endpoint.abort_stale_uploads(later).await.unwrap(), 1);
    assert_eq!(upload.put_part(1, &part, &part).await.1, "NoSuchUpload");
}

#[tokio::test]
async fn the_rust_sdk_presigns_parts_the_endpoint_accepts() {
    let app = spawn_large_app().await;
    let key = incoming_key();
    let upload = Upload::create(&app, &key).await;
    let client = app.sdk_client();
    let body = payload(4096);
    let pinned = ContentSha256::of(&body).to_base64();
    let presigned = client
        .upload_part()
        .bucket(BUCKET)
        .key(&key)
        .upload_id(&upload.id)
        .part_number(1)
        .checksum_sha256(&pinned)
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    let mut request = app.http.put(presigned.uri());
    for (name, value) in presigned.headers() {
        request = request.header(name, value);
    }
    let response = request.body(body.clone()).send().await.unwrap();
    let status = response.status();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(status, 200, "{}", response.text().await.unwrap());
    let (status, text) = upload.complete(&[(1, etag)]).await;
    assert_eq!(status, 200, "{text}");
    let stored = app
        .store
        .get(&ObjectKey::parse(&key).unwrap())
        .await
        .unwrap();
    assert!(stored[..] == body[..]);
}
