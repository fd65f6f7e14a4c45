//! `vetted serve --demo`: a few sample uploads, good and bad, generated at run time and sent
//! through the real HTTP endpoints the way a browser sends them, so that the owner page and
//! the moderator console have something to show.

use std::time::Duration;

use tracing::{info, warn};
use vetted_samples::{hostile, images};

use crate::client::VettedClient;

pub const DEMO_OWNER: &str = "demo-owner";
pub const DEMO_MODERATOR: &str = "demo-moderator";
/// Demo tokens last a working day.
pub const DEMO_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

struct DemoFile {
    name: &'static str,
    content_type: &'static str,
    bytes: Vec<u8>,
}

fn demo_files() -> Vec<DemoFile> {
    let mut cut_jpeg = images::jpeg(640, 480);
    cut_jpeg.truncate(2);
    vec![
        DemoFile {
            name: "logo.png",
            content_type: "image/png",
            bytes: images::png(512, 512),
        },
        DemoFile {
            name: "terrace-with-gps.jpg",
            content_type: "image/jpeg",
            bytes: images::jpeg_with_gps(1024, 768, 48.8566, 2.3522),
        },
        DemoFile {
            name: "banner.webp",
            content_type: "image/webp",
            bytes: images::webp_lossless(900, 300),
        },
        // Refused by the gate: a web page named and declared as a PNG.
        DemoFile {
            name: "menu.png",
            content_type: "image/png",
            bytes: hostile::html(),
        },
        // Refused by the gate: 16 pixels a side.
        DemoFile {
            name: "favicon.png",
            content_type: "image/png",
            bytes: images::png(16, 16),
        },
        // Refused by the gate: a JPEG that ends right after its first marker.
        DemoFile {
            name: "cut-off.jpg",
            content_type: "image/jpeg",
            bytes: cut_jpeg,
        },
    ]
}

/// Uploads the demo files as [`DEMO_OWNER`] through `base`.
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
