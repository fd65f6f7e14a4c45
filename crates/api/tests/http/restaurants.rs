//! Restaurants, members and slots over HTTP: who may see and do what, each slot's policy at
//! presign time, the live image after a publish, and a moderator's rollback. Every refusal is
//! checked with its status and reason, and every body against its schema.

use reqwest::StatusCode;
use serde_json::json;
use vetted_core::policy::SlotPolicies;
use vetted_core::ports::Restaurants;
use vetted_core::restaurant::{OfferOutcome, SlotImage};
use vetted_core::{Clock, ImageType, ObjectKey, SlotRef, Timestamp, UploadId};

use crate::app::{
    AppOptions, OWNER, RESTAURANT, TestApp, assert_error, png_request, spawn_app, spawn_with,
};
use crate::schemas::assert_matches;

async fn slot_policy_app() -> TestApp {
    spawn_with(AppOptions {
        policies: Some(SlotPolicies::default()),
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn only_members_ask_to_change_a_slot_and_strangers_see_a_404() {
    let app = spawn_app().await;
    app.restaurant("r2", "owner-2").await;
    // A member of another restaurant, and a restaurant that does not exist: the same 404.
    let stranger = app.create(&app.owner("owner-2"), png_request(100)).await;
    assert_error(&stranger, StatusCode::NOT_FOUND, "not_found");
    let mut missing = png_request(100);
    missing["restaurant"] = json!("no-such-restaurant");
    let nowhere = app.create(&app.owner(OWNER), missing).await;
    assert_error(&nowhere, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(stranger.1, nowhere.1, "a stranger learns nothing");
    let mut bad_id = png_request(100);
    bad_id["restaurant"] = json!("../r1");
    assert_error(
        &app.create(&app.owner(OWNER), bad_id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(app.count("owner-2").await, 0);

    // Staff may upload.
    app.join("staff-1").await;
    let (status, body) = app.create(&app.owner("staff-1"), png_request(100)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn a_slot_must_be_one_restaurants_have() {
    let app = spawn_app().await;
    for slot in [
        "",
        "Logo",
        "gallery-0",
        "gallery-13",
        "gallery-01",
        "banner",
        "logo/x",
    ] {
        let mut request = png_request(100);
        request["slot"] = json!(slot);
        let answer = app.create(&app.owner(OWNER), request).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_slot");
    }
    let mut missing = png_request(100);
    missing.as_object_mut().unwrap().remove("slot");
    let answer = app.create(&app.owner(OWNER), missing).await;
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{}", answer.1);
    assert_eq!(app.count(OWNER).await, 0);
}

#[tokio::test]
async fn each_slot_kind_has_its_own_limits_at_presign_time() {
    let app = slot_policy_app().await;
    let mut logo = png_request(6 * 1024 * 1024);
    logo["slot"] = json!("logo");
    let answer = app.create(&app.owner(OWNER), logo).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "too_large");
    let message = answer.1["error"].as_str().unwrap();
    assert!(
        message.contains("logo must be at most 5242880 bytes"),
        "{message}"
    );
    // The same size is fine for a gallery photo.
    let (status, body) = app
        .create(&app.owner(OWNER), png_request(6 * 1024 * 1024))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, policy) = app.get(&app.owner(OWNER), "/api/policy").await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    assert_matches("policy.json", &policy);
    assert_eq!(policy["logo"]["min_side"], 512);
    assert_eq!(policy["logo"]["min_aspect"], "1:1");
    assert_eq!(policy["logo"]["max_aspect"], "4:1");
    assert_eq!(policy["gallery_positions"], 12);
}

#[tokio::test]
async fn admins_create_restaurants_and_nobody_else_does() {
    let app = spawn_app().await;
    let body = r#"{"id": "bistro-9", "name": "Bistro Nine", "owners": ["owner-9"]}"#;
    let path = "/api/restaurants";
    assert_error(
        &app.post("", path, body).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    for token in [app.owner(OWNER), app.moderator("mod-1")] {
        assert_error(
            &app.post(&token, path, body).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
    }
    let admin = app.admin("admin-1");
    let (status, created) = app.post(&admin, path, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_matches("restaurant.json", &created);
    assert_error(
        &app.post(&admin, path, body).await,
        StatusCode::CONFLICT,
        "already_exists",
    );
    for bad in [
        r#"{"name": ""}"#,
        r#"{"name": "x", "id": "Not Valid"}"#,
        // Upload records from before restaurants existed read back as restaurant `legacy`.
        r#"{"name": "x", "id": "legacy"}"#,
        r#"{"name": "x", "owners": ["a/b"]}"#,
        r#"{"name": "x", "colour": "red"}"#,
        r#"{"name": 3}"#,
        "not json",
    ] {
        let answer = app.post(&admin, path, bad).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{bad}: {}", answer.1);
        assert_matches("error.json", &answer.1);
    }
    let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(2 * 1024 * 1024));
    assert_eq!(
        app.post(&admin, path, &huge).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    // The named owner sees it among their restaurants, with their role.
    let (status, mine) = app.get(&app.owner("owner-9"), path).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_matches("restaurant-list.json", &mine);
    assert_eq!(mine["items"][0]["id"], "bistro-9");
    assert_eq!(mine["items"][0]["role"], "owner");
}

#[tokio::test]
async fn owners_manage_staff_but_not_owners() {
    let app = spawn_app().await;
    app.restaurant("r2", "owner-2").await;
    let owner = app.owner(OWNER);
    let members = format!("/api/restaurants/{RESTAURANT}/members");
    let staff_path = format!("{members}/staff-1");

    let (status, added) = app.put(&owner, &staff_path, r#"{"role": "staff"}"#).await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_matches("member.json", &added);
    let (status, list) = app.get(&owner, &members).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_matches("member-list.json", &list);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);

    // An owner cannot make an owner, nor change or remove one.
    assert_error(
        &app.put(
            &owner,
            &format!("{members}/someone"),
            r#"{"role": "owner"}"#,
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(
        app.delete(&owner, &format!("{members}/{OWNER}")).await,
        StatusCode::FORBIDDEN
    );
    // Staff see the restaurant but manage nobody.
    let staff = app.owner("staff-1");
    assert_error(
        &app.get(&staff, &members).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &app.put(&staff, &format!("{members}/x"), r#"{"role": "staff"}"#)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    // Another restaurant's owner gets the 404 of a restaurant that does not exist.
    let other = app.owner("owner-2");
    assert_error(
        &app.get(&other, &members).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.put(&other, &staff_path, r#"{"role": "staff"}"#).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(app.delete(&other, &staff_path).await, StatusCode::NOT_FOUND);
    for bad in [r#"{"role": "king"}"#, r#"{}"#, "[]"] {
        let answer = app.put(&owner, &staff_path, bad).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{bad}: {}", answer.1);
    }

    assert_eq!(
        app.delete(&owner, &staff_path).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.delete(&owner, &staff_path).await, StatusCode::NOT_FOUND);
    // Removed staff lose the restaurant's uploads with it.
    assert_error(
        &app.create(&staff, png_request(100)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

/// Publishes an image to a slot straight in the store, as the publish step would.
async fn offer(app: &TestApp, slot: &SlotRef, decided_ms: i64) -> (UploadId, OfferOutcome) {
    let upload = UploadId::generate();
    let image = SlotImage {
        upload,
        key: ObjectKey::published(slot, &upload),
        image_type: ImageType::Png,
        width: 600,
        height: 600,
        bytes: 1234,
        decided_at: Timestamp::from_unix_millis(decided_ms),
        published_at: Timestamp::from_unix_millis(decided_ms + 1),
    };
    (upload, app.restaurants.offer(slot, &image).await.unwrap())
}

#[tokio::test]
async fn members_and_moderators_see_the_slots_and_strangers_do_not() {
    let app = spawn_app().await;
    app.restaurant("r2", "owner-2").await;
    let logo: SlotRef = format!("{RESTAURANT}/logo").parse().unwrap();
    let (live, _) = offer(&app, &logo, 1_000).await;
    let path = format!("/api/restaurants/{RESTAURANT}/slots");

    for token in [app.owner(OWNER), app.moderator("mod-1")] {
        let (status, body) = app.get(&token, &path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_matches("slot-list.json", &body);
        let items = body["items"].as_array().unwrap();
        assert_eq!(items.len(), 14, "logo, cover and 12 gallery positions");
        assert_eq!(items[0]["slot"], "logo");
        assert_eq!(items[0]["live"]["upload_id"], live.to_string());
        assert_eq!(
            items[0]["live"]["url"],
            format!("http://media.test/media/{live}")
        );
        assert_eq!(
            items[0]["live_url"],
            format!("http://media.test/media/{RESTAURANT}/logo")
        );
        assert_eq!(items[0]["revision"], 1);
        assert!(items[1].get("live").is_none(), "{}", items[1]);
    }
    let stranger = app.get(&app.owner("owner-2"), &path).await;
    assert_error(&stranger, StatusCode::NOT_FOUND, "not_found");
    let missing = app
        .get(&app.owner(OWNER), "/api/restaurants/nope/slots")
        .await;
    assert_eq!(stranger.1, missing.1);
    assert_error(
        &app.get("", &path).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let (status, history) = app
        .get(&app.owner(OWNER), &format!("{path}/logo/history"))
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_matches("slot-history.json", &history);
    assert_error(
        &app.get(&app.owner(OWNER), &format!("{path}/gallery-99/history"))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn a_moderator_rolls_a_slot_back_once_and_the_change_is_announced() {
    let app = spawn_app().await;
    let logo: SlotRef = format!("{RESTAURANT}/logo").parse().unwrap();
    let (old, _) = offer(&app, &logo, 1_000).await;
    let (new, _) = offer(&app, &logo, 2_000).await;
    let path = format!("/api/restaurants/{RESTAURANT}/slots/logo/rollback");
    let body = |upload: &UploadId, revision: u64| {
        json!({"upload_id": upload, "expected_revision": revision}).to_string()
    };

    assert_error(
        &app.post("", &path, &body(&old, 2)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_error(
        &app.post(&app.owner(OWNER), &path, &body(&old, 2)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let moderator = app.moderator("mod-1");
    assert_error(
        &app.post(&moderator, &path, &body(&old, 1)).await,
        StatusCode::CONFLICT,
        "slot_moved",
    );
    assert_error(
        &app.post(&moderator, &path, &body(&UploadId::generate(), 2))
            .await,
        StatusCode::NOT_FOUND,
        "not_in_history",
    );
    assert_error(
        &app.post(
            &moderator,
            "/api/restaurants/nope/slots/logo/rollback",
            &body(&old, 2),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    for bad in ["{}", r#"{"upload_id": "x", "expected_revision": 2}"#, "[]"] {
        let answer = app.post(&moderator, &path, bad).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{bad}: {}", answer.1);
    }

    let (status, slot) = app.post(&moderator, &path, &body(&old, 2)).await;
    assert_eq!(status, StatusCode::OK, "{slot}");
    assert_eq!(slot["live"]["upload_id"], old.to_string());
    assert_eq!(slot["previous_upload_id"], new.to_string());
    assert_eq!(slot["revision"], 3);
    // The same request again finds the slot moved: one rollback, not two.
    assert_error(
        &app.post(&moderator, &path, &body(&old, 2)).await,
        StatusCode::CONFLICT,
        "slot_moved",
    );
    let events = app.outbox.events_for(&old).await.unwrap();
    let rolled_back = events
        .iter()
        .find(|e| e.revision == Some(3))
        .expect("a slot.changed event for revision 3");
    assert_eq!(rolled_back.event_type.as_str(), "slot.changed");
    assert_eq!(rolled_back.previous_upload_id, Some(new));
    assert_eq!(rolled_back.time, app.clock.now());
}

#[tokio::test]
async fn an_owner_removes_a_gallery_image_once_and_the_change_is_announced() {
    let app = spawn_app().await;
    app.restaurant("r2", "owner-2").await;
    app.join("staff-1").await;
    let gallery: SlotRef = format!("{RESTAURANT}/gallery-3").parse().unwrap();
    let (shown, _) = offer(&app, &gallery, 1_000).await;
    let logo: SlotRef = format!("{RESTAURANT}/logo").parse().unwrap();
    offer(&app, &logo, 1_000).await;
    let path = format!("/api/restaurants/{RESTAURANT}/slots/gallery-3/remove");
    let body = |revision: u64| json!({ "expected_revision": revision }).to_string();
    let owner = app.owner(OWNER);

    assert_error(
        &app.post("", &path, &body(1)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    // Staff upload but do not take images down; moderators roll back instead.
    for token in [app.owner("staff-1"), app.moderator("mod-1")] {
        assert_error(
            &app.post(&token, &path, &body(1)).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
    }
    // Another restaurant's owner, and a restaurant that does not exist: the same 404.
    let stranger = app.post(&app.owner("owner-2"), &path, &body(1)).await;
    assert_error(&stranger, StatusCode::NOT_FOUND, "not_found");
    let missing = app
        .post(
            &owner,
            "/api/restaurants/nope/slots/gallery-3/remove",
            &body(1),
        )
        .await;
    assert_eq!(stranger.1, missing.1);
    assert_error(
        &app.post(
            &owner,
            &format!("/api/restaurants/{RESTAURANT}/slots/gallery-99/remove"),
            &body(1),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.post(
            &owner,
            &format!("/api/restaurants/{RESTAURANT}/slots/logo/remove"),
            &body(1),
        )
        .await,
        StatusCode::CONFLICT,
        "not_removable",
    );
    assert_error(
        &app.post(&owner, &path, &body(0)).await,
        StatusCode::CONFLICT,
        "slot_moved",
    );
    for bad in [
        "{}",
        r#"{"expected_revision": -1}"#,
        r#"{"expected_revision": 1, "upload_id": "x"}"#,
        "[]",
        "not json",
    ] {
        let answer = app.post(&owner, &path, bad).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{bad}: {}", answer.1);
        assert_matches("error.json", &answer.1);
    }
    let oversized = format!(
        r#"{{"expected_revision": 1, "pad": "{}"}}"#,
        "x".repeat(70_000)
    );
    assert_error(
        &app.post(&owner, &path, &oversized).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    assert_eq!(
        app.restaurants.slot(&gallery).await.unwrap().revision,
        1,
        "a refused removal changed the slot"
    );

    let (status, slot) = app.post(&owner, &path, &body(1)).await;
    assert_eq!(status, StatusCode::OK, "{slot}");
    // The listing shows the slot as the answer does, and both match the schema.
    let (_, listing) = app
        .get(&owner, &format!("/api/restaurants/{RESTAURANT}/slots"))
        .await;
    assert_matches("slot-list.json", &listing);
    let mut listed = listing["items"][4].clone();
    assert_eq!(listed["slot"], "gallery-3");
    assert_eq!(listed["pending"], json!([]));
    listed.as_object_mut().unwrap().remove("pending");
    assert_eq!(listed, slot);
    assert!(slot.get("live").is_none(), "{slot}");
    assert!(slot.get("live_url").is_none(), "{slot}");
    assert_eq!(slot["previous_upload_id"], shown.to_string());
    assert_eq!(slot["revision"], 2);
    // A retry of the same request (its answer lost) answers the same and changes nothing.
    let (status, again) = app.post(&owner, &path, &body(1)).await;
    assert_eq!((status, &again), (StatusCode::OK, &slot));
    assert_error(
        &app.post(&owner, &path, &body(2)).await,
        StatusCode::CONFLICT,
        "slot_empty",
    );
    let history = app.restaurants.history(&gallery).await.unwrap();
    assert_eq!(
        history.iter().map(|i| i.upload).collect::<Vec<_>>(),
        [shown],
        "the removed image stays in the history"
    );

    let events = app.outbox.events_for(&shown).await.unwrap();
    let cleared: Vec<_> = events
        .iter()
        .filter(|e| e.event_type.as_str() == "slot.cleared")
        .collect();
    assert!(!cleared.is_empty(), "no slot.cleared event: {events:?}");
    assert!(
        cleared.iter().all(|e| e.id == cleared[0].id),
        "a retried removal announced a second, different event"
    );
    assert_eq!(cleared[0].revision, Some(2));
    assert_eq!(cleared[0].previous_upload_id, Some(shown));
    assert_eq!(cleared[0].url, None);

    // A moderator can bring it back.
    let (status, restored) = app
        .post(
            &app.moderator("mod-1"),
            &format!("/api/restaurants/{RESTAURANT}/slots/gallery-3/rollback"),
            &json!({"upload_id": shown, "expected_revision": 2}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert_eq!(restored["live"]["upload_id"], shown.to_string());
}
