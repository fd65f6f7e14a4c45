//! `POST /api/uploads` and the filename's extension: it must be one the slot kind's policy
//! allows and one of the declared type's, in any case; otherwise 400 `extension_not_allowed`,
//! with the allowed extensions in words, and nothing written.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::app::{assert_error, png_request, spawn_app};

fn named(filename: &str, content_type: &str) -> Value {
    let mut request = png_request(100);
    request["slot"] = json!("logo");
    request["filename"] = json!(filename);
    request["content_type"] = json!(content_type);
    request
}

/// Sends one request and checks it is refused for its extension, that the message names
/// what the logo takes, and that nothing was written.
async fn refused_for_its_extension(filename: &str, content_type: &str) -> String {
    let app = spawn_app().await;
    let answer = app
        .create(&app.owner("owner-1"), named(filename, content_type))
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "extension_not_allowed");
    assert_eq!(
        app.count("owner-1").await,
        0,
        "a record was written for {filename}"
    );
    let message = answer.1["error"].as_str().unwrap().to_owned();
    assert!(
        message.contains("logo takes .jpg, .jpeg, .png or .webp files"),
        "{message}"
    );
    message
}

#[tokio::test]
async fn an_exe_declared_png_is_refused() {
    let message = refused_for_its_extension("logo.exe", "image/png").await;
    assert_eq!(
        message,
        "the filename ends in .exe: logo takes .jpg, .jpeg, .png or .webp files, and the \
         name of an image/png file must end in .png"
    );
}

#[tokio::test]
async fn a_jpg_name_declared_png_is_refused() {
    let message = refused_for_its_extension("photo.jpg", "image/png").await;
    assert!(
        message.starts_with("the filename ends in .jpg: "),
        "{message}"
    );
}

#[tokio::test]
async fn a_name_without_an_extension_is_refused() {
    let message = refused_for_its_extension("logo", "image/png").await;
    assert!(
        message.starts_with("the filename has no extension: "),
        "{message}"
    );
    refused_for_its_extension("logo.", "image/png").await;
    refused_for_its_extension(".png", "image/png").await;
}

#[tokio::test]
async fn a_double_extension_is_read_by_its_last_one() {
    refused_for_its_extension("logo.png.exe", "image/png").await;
}

#[tokio::test]
async fn the_extension_may_be_in_any_case() {
    let app = spawn_app().await;
    let token = app.owner("owner-1");
    for (filename, content_type) in [
        ("LOGO.PNG", "image/png"),
        ("Photo.JPEG", "image/jpeg"),
        ("menu.v2.Webp", "image/webp"),
    ] {
        let (status, body) = app.create(&token, named(filename, content_type)).await;
        assert_eq!(status, StatusCode::CREATED, "{filename}: {body}");
    }
    assert_eq!(app.count("owner-1").await, 3);
}
