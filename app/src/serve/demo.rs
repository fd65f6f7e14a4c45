//! `vetted serve --demo`: two restaurants, and a few sample uploads to their slots, good and
//! bad, generated at run time and sent through the real HTTP endpoints the way a browser sends
//! them, so that the owner page and the moderator console have something to show.

use std::time::Duration;

use anyhow::Context;
use tracing::{info, warn};
use vetted_core::notify::{EmailAddress, Preference};
use vetted_core::ports::{Notifications, Restaurants, RestaurantsError};
use vetted_core::restaurant::{Member, MemberRole, Restaurant};
use vetted_core::{OwnerId, RestaurantId, Slot, SlotRef, Timestamp};
use vetted_samples::{hostile, images};

use crate::client::VettedClient;

pub const DEMO_OWNER: &str = "demo-owner";
/// The demo owner's token carries it, and the demo owner starts opted in to owner emails.
pub const DEMO_OWNER_EMAIL: &str = "demo-owner@example.com";
/// Owns the second restaurant; the demo owner is staff there.
pub const DEMO_OTHER_OWNER: &str = "demo-owner-2";
pub const DEMO_MODERATOR: &str = "demo-moderator";
/// The demo owner's restaurant, and the one where the demo owner is staff.
pub const DEMO_RESTAURANTS: [(&str, &str); 2] = [
    ("trattoria-roma", "Trattoria Roma"),
    ("sushi-kyo", "Sushi Kyo"),
];
/// Demo tokens last a working day.
pub const DEMO_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

/// Opts the demo owner in to owner emails, so that the demo's outcomes show as mail.
pub async fn opt_in(notifications: &dyn Notifications, now: Timestamp) -> anyhow::Result<()> {
    let preference = Preference {
        enabled: true,
        address: Some(EmailAddress::parse(DEMO_OWNER_EMAIL)?),
        updated_at: now,
    };
    notifications
        .set_preference(&OwnerId::parse(DEMO_OWNER)?, &preference)
        .await
        .context("opting the demo owner in to emails")
}

struct DemoFile {
    slot: Slot,
    name: &'static str,
    content_type: &'static str,
    bytes: Vec<u8>,
}

fn demo_files() -> Vec<DemoFile> {
    let mut cut_jpeg = images::jpeg(640, 480);
    cut_jpeg.truncate(2);
    vec![
        DemoFile {
            slot: Slot::Logo,
            name: "logo.png",
            content_type: "image/png",
            bytes: images::png(512, 512),
        },
        DemoFile {
            slot: Slot::Gallery(1),
            name: "terrace-with-gps.jpg",
            content_type: "image/jpeg",
            bytes: images::jpeg_with_gps(1024, 768, 48.8566, 2.3522),
        },
        DemoFile {
            slot: Slot::Cover,
            name: "banner.webp",
            content_type: "image/webp",
            bytes: images::webp_lossless(1280, 720),
        },
        // Refused by the gate: a web page named and declared as a PNG.
        DemoFile {
            slot: Slot::Gallery(2),
            name: "menu.png",
            content_type: "image/png",
            bytes: hostile::html(),
        },
        // Refused by the gate: a logo must be at least 512×512.
        DemoFile {
            slot: Slot::Logo,
            name: "favicon.png",
            content_type: "image/png",
            bytes: images::png(16, 16),
        },
        // Refused by the gate: a JPEG that ends right after its first marker.
        DemoFile {
            slot: Slot::Gallery(3),
            name: "cut-off.jpg",
            content_type: "image/jpeg",
            bytes: cut_jpeg,
        },
    ]
}

/// Creates the demo restaurants and their members, unless an earlier run did.
pub async fn seed_restaurants(store: &dyn Restaurants, now: Timestamp) -> anyhow::Result<()> {
    let user = |raw: &str| OwnerId::parse(raw).context("demo user id");
    let members = [
        (user(DEMO_OWNER)?, MemberRole::Owner),
        (user(DEMO_OTHER_OWNER)?, MemberRole::Owner),
    ];
    for (index, (id, name)) in DEMO_RESTAURANTS.into_iter().enumerate() {
        let restaurant = Restaurant {
            id: RestaurantId::parse(id).context("demo restaurant id")?,
            name: name.to_owned(),
            created_at: now,
        };
        match store.create(&restaurant).await {
            Ok(()) | Err(RestaurantsError::AlreadyExists(_)) => {}
            Err(error) => return Err(error).context("creating the demo restaurants"),
        }
        let (owner, _) = &members[index];
        let staff = &members[1 - index].0;
        for (who, role) in [(owner, MemberRole::Owner), (staff, MemberRole::Staff)] {
            let member = Member {
                user: who.clone(),
                role,
                added_at: now,
            };
            store
                .put_member(&restaurant.id, &member)
                .await
                .context("adding the demo members")?;
        }
    }
    Ok(())
}

/// The demo owner's own restaurant.
pub fn demo_restaurant() -> RestaurantId {
    RestaurantId::parse(DEMO_RESTAURANTS[0].0).unwrap_or_else(|_| unreachable!("a valid id"))
}

/// Uploads the demo files as [`DEMO_OWNER`] through `base`, to the demo owner's restaurant.
pub async fn seed(base: &str, owner_token: &str) {
    let client = match VettedClient::new(base) {
        Ok(client) => client,
        Err(error) => {
            warn!(%error, "demo: no HTTP client");
            return;
        }
    };
    for file in demo_files() {
        let result = async {
            let grant = client
                .request_upload(
                    owner_token,
                    &SlotRef::new(demo_restaurant(), file.slot),
                    file.name,
                    file.content_type,
                    file.bytes.len(),
                    "post",
                )
                .await?;
            client.send_file(&grant, file.name, file.bytes).await?;
            anyhow::Ok(grant.upload_id)
        }
        .await;
        match result {
            Ok(id) => info!(file = file.name, upload_id = %id, "demo upload sent"),
            Err(error) => warn!(file = file.name, %error, "demo upload failed"),
        }
    }
}
