//! The walk the restaurants issue asks for, on whichever backend the server runs: an owner
//! replaces a logo, the old one is served at the slot's URL throughout the review, the new one
//! after the approval, and a moderator's rollback brings the old one back. A third logo is
//! withdrawn by the owner while in review, and the slot does not change. A 300×300 logo sent
//! past the page is refused by the gate with the 512×512 rule named. Last, a gallery image is
//! published and the owner takes it down: the slot's URL stops serving it at once.
//!
//! The caller checks the events on its own backend's tap, from the ids this returns.

use serde_json::{Value, json};
use vetted_samples::images;

use super::client::Api;
use super::server::Server;
use super::wait_for_status;

/// The restaurant of the walk, and its owner.
pub const RESTAURANT: &str = "logo-walk";
pub const OWNER: &str = "owner-logo-walk";

/// The uploads of the walk.
pub struct Walk {
    /// The first logo (600×600), replaced, then restored by the rollback.
    pub old: String,
    /// The second logo (1024×512), live between its approval and the rollback.
    pub new: String,
    /// A third logo (1200×600), withdrawn by the owner while in review.
    pub withdrawn: String,
    /// The 300×300 logo the gate refused.
    pub refused: String,
    /// A gallery image (1600×1200), published to `gallery-1` and then removed by the owner.
    pub removed: String,
}

/// What `/media/{restaurant}/logo` serves now: its ETag and the decoded dimensions.
async fn live_logo(api: &Api, server: &Server) -> (String, (u32, u32)) {
    let response = api
        .http()
        .get(format!("{}/media/{RESTAURANT}/logo", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "GET the live logo");
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let etag = headers["etag"]
        .to_str()
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let bytes = response.bytes().await.unwrap();
    let image = image::load_from_memory(&bytes).expect("the live logo decodes");
    (etag, (image.width(), image.height()))
}

async fn approve(api: &Api, server: &Server, moderator: &str, id: &str) {
    let answer = api
        .decide(&server.base, moderator, id, "approve", None)
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "approving {id}: {:?}", answer.body);
}

pub async fn replace_and_roll_back(server: &Server) -> Walk {
    let api = Api::new();
    server.restaurant(RESTAURANT, &[OWNER]).await;
    let owner = server.token(OWNER, "owner");
    let moderator = server.token("moderator-logo-walk", "moderator");
    let base = &server.base;
    let logo = format!("{RESTAURANT}/logo");
    let send = |name: &'static str, bytes: Vec<u8>| {
        let (api, owner, logo) = (api.clone(), owner.clone(), logo.clone());
        async move {
            api.upload_file(base, &owner, &logo, name, "image/png", bytes, "post")
                .await
        }
    };

    let missing = api
        .http()
        .get(format!("{base}/media/{RESTAURANT}/logo"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404, "a slot never published has no image");

    let old = send("old-logo.png", images::png(600, 600)).await;
    wait_for_status(&api, base, &owner, &old, "IN_REVIEW").await;
    approve(&api, server, &moderator, &old).await;
    let published = wait_for_status(&api, base, &owner, &old, "PUBLISHED").await;
    assert_eq!(
        published["url"],
        format!("{base}/media/{old}"),
        "{published}"
    );
    assert_eq!(live_logo(&api, server).await, (old.clone(), (600, 600)));

    // The new logo in review: the old one is still what the slot serves.
    let new = send("new-logo.png", images::png(1024, 512)).await;
    wait_for_status(&api, base, &owner, &new, "IN_REVIEW").await;
    assert_eq!(
        live_logo(&api, server).await.0,
        old,
        "replaced before approval"
    );
    let queue = api.reviews(base, &moderator, None).await.unwrap();
    let card = queue.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["upload_id"] == new.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{new} is not in the queue: {}", queue.body));
    assert_eq!(card["live"]["upload_id"], old.as_str(), "{card}");
    assert_eq!(card["slot"], "logo");
    assert_eq!(card["policy"]["min_side"], 512);
    // The owner's slots show the request as pending, beside the live logo.
    let slots_path = format!("{base}/api/restaurants/{RESTAURANT}/slots");
    let slots = get(&api, &slots_path, &owner).await;
    let logo_slot = &slots["items"][0];
    assert_eq!(logo_slot["live"]["upload_id"], old.as_str(), "{logo_slot}");
    assert_eq!(
        logo_slot["pending"][0]["upload_id"],
        new.as_str(),
        "{logo_slot}"
    );
    assert_eq!(
        logo_slot["pending"][0]["status"], "IN_REVIEW",
        "{logo_slot}"
    );

    approve(&api, server, &moderator, &new).await;
    wait_for_status(&api, base, &owner, &new, "PUBLISHED").await;
    assert_eq!(live_logo(&api, server).await, (new.clone(), (1024, 512)));
    let slots = get(&api, &slots_path, &owner).await;
    let slot = &slots["items"][0];
    assert_eq!(slot["live"]["upload_id"], new.as_str(), "{slot}");
    assert_eq!(
        slot["pending"],
        json!([]),
        "published, so no longer pending: {slot}"
    );
    assert_eq!(slot["previous_upload_id"], old.as_str(), "{slot}");
    assert_eq!(slot["revision"], 2, "{slot}");

    // The moderator puts the old logo back.
    let answer = api
        .http()
        .post(format!(
            "{base}/api/restaurants/{RESTAURANT}/slots/logo/rollback"
        ))
        .bearer_auth(&moderator)
        .json(&json!({"upload_id": old, "expected_revision": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "the rollback");
    assert_eq!(live_logo(&api, server).await, (old.clone(), (600, 600)));
    // One upload's own URL keeps showing that upload, whatever the slot shows.
    let pinned = api
        .http()
        .get(format!("{base}/media/{new}"))
        .send()
        .await
        .unwrap();
    assert_eq!(pinned.status(), 200);
    assert!(
        pinned.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );

    // A third logo, withdrawn while in review: its review ends and the slot keeps the old one.
    let withdrawn = send("withdrawn-logo.png", images::png(1200, 600)).await;
    wait_for_status(&api, base, &owner, &withdrawn, "IN_REVIEW").await;
    let answer = api
        .http()
        .post(format!("{base}/api/uploads/{withdrawn}/withdraw"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "the withdrawal");
    wait_for_status(&api, base, &owner, &withdrawn, "WITHDRAWN").await;
    let queue = api.reviews(base, &moderator, None).await.unwrap();
    assert!(
        !queue.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|item| item["upload_id"] == withdrawn.as_str()),
        "a withdrawn upload stays in the queue: {}",
        queue.body
    );
    assert_eq!(live_logo(&api, server).await, (old.clone(), (600, 600)));

    // A 300×300 logo sent without the page's check: the gate names the rule.
    let refused = send("small-logo.png", images::png(300, 300)).await;
    let rejected = wait_for_status(&api, base, &owner, &refused, "REJECTED").await;
    assert_eq!(rejected["reason"], "too_small_dimensions", "{rejected}");
    assert_eq!(
        rejected["reason_message"], "logo must be at least 512×512 pixels",
        "{rejected}"
    );

    let removed = remove_a_gallery_image(&api, server, &owner, &moderator).await;
    Walk {
        old,
        new,
        withdrawn,
        refused,
        removed,
    }
}

/// Publishes a gallery image and has the owner take it down; returns its id.
async fn remove_a_gallery_image(
    api: &Api,
    server: &Server,
    owner: &str,
    moderator: &str,
) -> String {
    let base = &server.base;
    let photo = api
        .upload_file(
            base,
            owner,
            &format!("{RESTAURANT}/gallery-1"),
            "terrace.jpg",
            "image/jpeg",
            images::jpeg(1600, 1200),
            "post",
        )
        .await;
    wait_for_status(api, base, owner, &photo, "IN_REVIEW").await;
    approve(api, server, moderator, &photo).await;
    wait_for_status(api, base, owner, &photo, "PUBLISHED").await;
    let slot_url = format!("{base}/media/{RESTAURANT}/gallery-1");
    let status = |url: String| async move { api.http().get(url).send().await.unwrap().status() };
    assert_eq!(
        status(slot_url.clone()).await,
        200,
        "the published gallery image"
    );

    let answer = api
        .http()
        .post(format!(
            "{base}/api/restaurants/{RESTAURANT}/slots/gallery-1/remove"
        ))
        .bearer_auth(owner)
        .json(&json!({"expected_revision": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "the removal");
    let slot: Value = answer.json().await.unwrap();
    assert_eq!(
        (
            slot.get("live"),
            &slot["previous_upload_id"],
            &slot["revision"]
        ),
        (None, &json!(photo), &json!(2)),
        "{slot}"
    );
    assert_eq!(
        status(slot_url).await,
        404,
        "the slot still serves a removed image"
    );
    // Its own URL still serves it: the history keeps it, and a moderator may roll it back.
    assert_eq!(status(format!("{base}/media/{photo}")).await, 200);
    let slots = get(
        api,
        &format!("{base}/api/restaurants/{RESTAURANT}/slots"),
        owner,
    )
    .await;
    let gallery = &slots["items"][2];
    assert_eq!(gallery["slot"], "gallery-1");
    assert!(gallery.get("live").is_none(), "{gallery}");
    photo
}

async fn get(api: &Api, url: &str, token: &str) -> Value {
    let response = api.http().get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {url}");
    response.json().await.unwrap()
}

/// The walk's events, whatever tap they came from: each upload's types in order, every event
/// valid against its schema, the three `slot.changed` of the logo naming the right images, and
/// the `slot.cleared` of the gallery image.
pub fn check_events(walk: &Walk, events: &[Value]) {
    use super::events::{EventSchemas, types_of};
    EventSchemas::load().assert_all_valid(events);
    assert_eq!(
        types_of(events, &walk.old),
        [
            "upload.received",
            "review.requested",
            "review.approved",
            "slot.changed",
            "upload.published",
            "slot.changed",
        ],
        "events of the old logo"
    );
    assert_eq!(
        types_of(events, &walk.new),
        super::events::expected_types("PUBLISHED"),
        "events of the new logo"
    );
    assert_eq!(
        types_of(events, &walk.withdrawn),
        super::events::expected_types("WITHDRAWN"),
        "events of the withdrawn logo"
    );
    assert_eq!(
        types_of(events, &walk.refused),
        super::events::expected_types("REJECTED"),
        "events of the refused logo"
    );
    assert_eq!(
        types_of(events, &walk.removed),
        [
            "upload.received",
            "review.requested",
            "review.approved",
            "slot.changed",
            "upload.published",
            "slot.cleared",
        ],
        "events of the removed gallery image"
    );
    let cleared = events
        .iter()
        .find(|e| e["type"] == "slot.cleared")
        .expect("a slot.cleared event");
    assert_eq!(
        (
            &cleared["slot"],
            &cleared["revision"],
            &cleared["previous_upload_id"]
        ),
        (&json!("gallery-1"), &json!(2), &json!(walk.removed)),
        "{cleared}"
    );
    // The rollback's slot.changed names the moderator; the publishes' do not.
    let rollback = events
        .iter()
        .find(|e| e["type"] == "slot.changed" && e["slot"] == "logo" && e["revision"] == 3)
        .expect("the rollback's slot.changed");
    assert_eq!(rollback["moderator"], "moderator-logo-walk", "{rollback}");
    let mut changes: Vec<(u64, &str, Option<&str>)> = events
        .iter()
        .filter(|e| e["type"] == "slot.changed" && e["slot"] == "logo")
        .map(|e| {
            (
                e["revision"].as_u64().unwrap(),
                e["upload_id"].as_str().unwrap(),
                e["previous_upload_id"].as_str(),
            )
        })
        .collect();
    changes.sort();
    assert_eq!(
        changes,
        [
            (1, walk.old.as_str(), None),
            (2, walk.new.as_str(), Some(walk.old.as_str())),
            (3, walk.old.as_str(), Some(walk.new.as_str())),
        ],
        "slot.changed: the publish, the replacement, the rollback"
    );
}
