//! PUT, GET and routing refusals: tampered, expired, wrongly keyed, unauthenticated and
//! out-of-bounds requests are refused with S3's codes and leave nothing behind.

use serde_json::json;
use vetted_core::ObjectKey;
use vetted_core::ports::{ObjectStore, StoreError};

use crate::harness::*;
use crate::refusals::*;

#[tokio::test]
async fn tampered_and_wrongly_keyed_puts_are_refused() {
    let app = spawn_app().await;
    let key = incoming_key();
    let signed = app
        .boto(json!([{"kind": "put", "key": key, "content_type": "image/png", "expires": 300}]))
        .await;
    let url = signed[0]["url"].as_str().unwrap();
    let png = [("content-type", "image/png")];
    let other_key = incoming_key();
    let moved = url.replace(&key, &other_key);
    assert_eq!(
        put(&app, &moved, &png, payload(10)).await,
        (403, "SignatureDoesNotMatch".into())
    );
    let html = [("content-type", "text/html")];
    assert_eq!(
        put(&app, url, &html, payload(10)).await,
        (403, "SignatureDoesNotMatch".into())
    );
    let longer = url.replace("X-Amz-Expires=300", "X-Amz-Expires=600");
    assert_eq!(
        put(&app, &longer, &png, payload(10)).await,
        (403, "SignatureDoesNotMatch".into())
    );

    let wrong_secret = app
        .boto_as(
            ACCESS_KEY,
            "not-the-secret",
            json!([{"kind": "put", "key": key, "expires": 300}]),
        )
        .await;
    assert_eq!(
        put(
            &app,
            wrong_secret[0]["url"].as_str().unwrap(),
            &[],
            payload(10)
        )
        .await,
        (403, "SignatureDoesNotMatch".into())
    );
    let wrong_key = app
        .boto_as(
            "AKIDSOMEONEELSE",
            SECRET_KEY,
            json!([{"kind": "put", "key": key, "expires": 300}]),
        )
        .await;
    assert_eq!(
        put(
            &app,
            wrong_key[0]["url"].as_str().unwrap(),
            &[],
            payload(10)
        )
        .await,
        (403, "InvalidAccessKeyId".into())
    );
    assert_nothing_left(&app, &key).await;
    assert_nothing_left(&app, &other_key).await;
}

#[tokio::test]
async fn a_url_signed_with_if_none_match_needs_the_header() {
    let app = spawn_app().await;
    let key = incoming_key();
    let signed = app
        .boto(json!([{"kind": "put", "key": key, "if_none_match": true, "expires": 300}]))
        .await;
    assert_eq!(
        put(&app, signed[0]["url"].as_str().unwrap(), &[], payload(10)).await,
        (403, "SignatureDoesNotMatch".into())
    );
    assert_nothing_left(&app, &key).await;
}

#[tokio::test]
async fn missing_auth_and_keys_outside_incoming_are_refused() {
    let app = spawn_app().await;
    let key = incoming_key();
    let bare = format!("{}/{BUCKET}/{key}", app.endpoint_url());
    assert_eq!(
        put(&app, &bare, &[], payload(10)).await,
        (403, "AccessDenied".into())
    );
    let anonymous = vec![("key".to_owned(), key.clone())];
    assert_eq!(
        post(&app, &anonymous, Some(b"x")).await,
        (403, "AccessDenied".into())
    );

    let upload = vetted_core::UploadId::generate();
    let published = ObjectKey::published(&"r1/logo".parse().unwrap(), &upload).to_string();
    let quarantine = format!("quarantine/owner-1/{upload}");
    let filename = "incoming/owner-1/${filename}";
    let signed = app
        .boto(json!([
            {"kind": "put", "key": quarantine, "expires": 300},
            signed_post(&published, 1, 100),
            signed_post(filename, 1, 100),
            {"kind": "get", "key": key, "expires": 300}
        ]))
        .await;
    assert_eq!(
        put(&app, signed[0]["url"].as_str().unwrap(), &[], payload(10)).await,
        (403, "AccessDenied".into())
    );
    assert_eq!(
        post(&app, &post_fields(&signed[1]), Some(b"x")).await,
        (403, "AccessDenied".into())
    );
    assert_eq!(
        post(&app, &post_fields(&signed[2]), Some(b"x")).await,
        (400, "InvalidArgument".into())
    );
    // Raw uploads are never served back, even with a valid signature.
    let get = app
        .http
        .get(signed[3]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 403);
    assert!(app.events().await.is_empty());
    assert!(matches!(
        app.store.head(&ObjectKey::parse(&published).unwrap()).await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn unknown_buckets_methods_and_subresources_are_refused() {
    let app = spawn_app().await;
    let key = incoming_key();
    let response = app
        .http
        .put(format!("{}/other-bucket/{key}", app.endpoint_url()))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(error_code(&response.text().await.unwrap()), "NoSuchBucket");
    let response = app
        .http
        .delete(format!("{}/{BUCKET}/{key}", app.endpoint_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    // A multipart part is served (multipart.rs), but only signed: unsigned, it is anonymous,
    // and the upload id is not even looked at.
    let response = app
        .http
        .put(format!(
            "{}/{BUCKET}/{key}?partNumber=1&uploadId=x",
            app.endpoint_url()
        ))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(error_code(&response.text().await.unwrap()), "AccessDenied");
    let response = app
        .http
        .put(format!("{}/{BUCKET}/{key}?acl", app.endpoint_url()))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 501);
    let response = app
        .http
        .post(format!("{}/{BUCKET}", app.endpoint_url()))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 412);
    assert_eq!(
        error_code(&response.text().await.unwrap()),
        "PreconditionFailed"
    );
    let signed = app.boto(json!([{"kind": "get", "key": ObjectKey::preview(&vetted_core::UploadId::generate()).as_str(), "expires": 300}])).await;
    let missing = app
        .http
        .get(signed[0]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(error_code(&missing.text().await.unwrap()), "NoSuchKey");
}

#[tokio::test]
async fn integrity_checks_that_cannot_be_verified_are_refused_not_ignored() {
    let app = spawn_app().await;
    let key = incoming_key();
    let signed = app
        .boto(json!([{"kind": "put", "key": key, "expires": 300}]))
        .await;
    let url = signed[0]["url"].as_str().unwrap();
    let md5 = [("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")];
    assert_eq!(
        put(&app, url, &md5, payload(10)).await,
        (501, "NotImplemented".into())
    );
    let checksum = format!("{url}&x-amz-checksum-crc32=AAAAAA%3D%3D");
    assert_eq!(
        put(&app, &checksum, &[], payload(10)).await,
        (403, "SignatureDoesNotMatch".into())
    );
    assert_nothing_left(&app, &key).await;
}
