//! `POST /api/uploads` is limited per user: a rate (429 `too_many_requests`) and a number of
//! open intents (429 `too_many_open_uploads`), each with `Retry-After`; nothing is written
//! when either refuses, and one user's limits are not another's.

use std::time::Duration;

use reqwest::StatusCode;
use vetted_api::ApiSettings;

use crate::app::{AppOptions, assert_error, png_request, spawn_with};

async fn create_answer(app: &crate::app::TestApp, token: &str) -> (StatusCode, Option<u64>) {
    let response = app
        .http
        .post(app.url("/api/uploads"))
        .bearer_auth(token)
        .json(&png_request(100))
        .send()
        .await
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    let status = response.status();
    let answer = crate::app::read(response).await;
    if status == StatusCode::TOO_MANY_REQUESTS {
        assert!(
            answer.1["reason"] == "too_many_requests"
                || answer.1["reason"] == "too_many_open_uploads"
        );
        assert_error(
            &answer,
            StatusCode::TOO_MANY_REQUESTS,
            answer.1["reason"].as_str().unwrap(),
        );
    }
    (status, retry_after)
}

#[tokio::test]
async fn asking_faster_than_the_rate_is_429_with_retry_after_for_that_user_only() {
    let app = spawn_with(AppOptions {
        settings: ApiSettings {
            uploads_per_minute: 1,
            upload_burst: 3,
            ..ApiSettings::default()
        },
        ..AppOptions::default()
    })
    .await;
    app.join("owner-2").await;
    let token = app.owner("owner-1");
    for _ in 0..3 {
        assert_eq!(create_answer(&app, &token).await.0, StatusCode::CREATED);
    }
    let (status, retry_after) = create_answer(&app, &token).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after = retry_after.expect("a 429 says when to retry");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(
        app.count("owner-1").await,
        3,
        "the refused request wrote nothing"
    );
    assert_eq!(
        create_answer(&app, &app.owner("owner-2")).await.0,
        StatusCode::CREATED,
        "another user's allowance is their own"
    );
}

#[tokio::test]
async fn holding_the_most_open_intents_is_429_until_one_expires() {
    let app = spawn_with(AppOptions {
        settings: ApiSettings {
            max_open_intents: 2,
            ..ApiSettings::default()
        },
        ..AppOptions::default()
    })
    .await;
    let token = app.owner("owner-1");
    for _ in 0..2 {
        assert_eq!(create_answer(&app, &token).await.0, StatusCode::CREATED);
    }
    let (status, retry_after) = create_answer(&app, &token).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // The oldest intent expires after the presign expiry (300 s) and the grace (60 s).
    let retry_after = retry_after.expect("a 429 says when to retry");
    assert!(
        (300..=360).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    assert_eq!(app.count("owner-1").await, 2);
    app.clock.advance(Duration::from_secs(retry_after));
    assert_eq!(
        create_answer(&app, &token).await.0,
        StatusCode::CREATED,
        "an expired intent no longer counts"
    );
}
