//! A large upload cut off by a reload, then resumed: the owner page sends a file larger than
//! one part in parts through a slow connection (see `throttle`), the page is reloaded once a
//! part has arrived, the page offers to resume, and picking the same file for the same slot
//! sends only the parts that were missing, to the same upload, which then goes on to review
//! like any other. What the page saved in localStorage names the upload, never its token. A
//! saved upload that can no longer go on is forgotten, and the file starts over.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::harness::{Driver, Page, Server, artifacts_dir};
use crate::steps::{
    choose_slot, owner_signs_in_by_link, pick_file, wait_for_row, wait_for_slots, wait_for_status,
};
use crate::support::server::ServeSettings;
use crate::throttle::Throttle;
use vetted_samples::images::grainy_jpeg;

/// The gallery takes files up to this size here, above the default, so that the photo spans
/// more than two parts of the default part size.
const GALLERY_MAX_BYTES: usize = 40 << 20;

/// Counts, in the page, the part numbers the page asks the API to sign and the PUTs it sends.
const PART_SPY: &str = "
  window.partSpy = { signed: [], puts: 0 };
  const fetchBefore = window.fetch;
  window.fetch = (path, init) => {
    if (init && init.method === 'POST' && /\\/parts$/.test(String(path))) {
      for (const part of JSON.parse(init.body).parts) window.partSpy.signed.push(part.number);
    }
    return fetchBefore(path, init);
  };
  const openBefore = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, ...rest) {
    if (method === 'PUT') window.partSpy.puts += 1;
    return openBefore.call(this, method, ...rest);
  };
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upload_cut_by_a_reload_resumes_with_the_parts_that_were_missing() {
    let artifacts = artifacts_dir("resume");
    let settings_dir = tempfile::tempdir().unwrap();
    let config = settings_dir.path().join("vetted.toml");
    std::fs::write(
        &config,
        format!("[policy.gallery]\nmax_bytes = {GALLERY_MAX_BYTES}\n"),
    )
    .unwrap();
    let mut throttle = Throttle::bind().await;
    let server = Server::start_with(|settings| ServeSettings {
        public_url: Some(throttle.base.clone()),
        config: Some(config.clone()),
        ..settings
    })
    .await;
    throttle.forward_to(server.addr);
    server
        .create_restaurant("cafe-sud", "Café Sud", &["sofia"])
        .await;
    let driver = Driver::start(&artifacts);
    let token = server.token("sofia", "owner");
    // The test's own calls go straight to the server, past the throttle.
    let api = Api {
        base: format!("http://{}", server.addr),
        token: token.clone(),
    };

    let policy = api.get("/api/policy").await;
    let part_size = policy["multipart_part_bytes"]
        .as_u64()
        .unwrap_or_else(|| panic!("GET /api/policy names no multipart_part_bytes: {policy}"));
    let files = tempfile::tempdir().unwrap();
    let photo = files.path().join("big.jpg");
    let bytes = grainy_jpeg(4800, 3200);
    let size = bytes.len() as u64;
    assert!(
        size > 2 * part_size && size <= GALLERY_MAX_BYTES as u64,
        "the photo is {size} bytes, for parts of {part_size}"
    );
    let part_count = size.div_ceil(part_size);
    std::fs::write(&photo, &bytes).unwrap();

    let owner = driver.open("owner", &artifacts).await;
    let link = format!("{}/#token={token}", server.base);
    owner_signs_in_by_link(&owner, &link).await;
    assert_eq!(wait_for_slots(&owner).await, "Café Sud");
    choose_slot(&owner, "gallery-1").await;
    pick_file(&owner, &photo).await;

    // The upload as the API knows it, then its first part arriving.
    let upload_id = owner
        .wait_for("the upload of big.jpg to be asked for", async || {
            let list = api.get("/api/uploads").await;
            list["items"].as_array()?.iter().find_map(|item| {
                (item["filename"] == "big.jpg")
                    .then(|| item["upload_id"].as_str().unwrap().to_owned())
            })
        })
        .await;
    let parts_path = format!("/api/uploads/{upload_id}/parts");
    let arrived = owner
        .wait_for("a first part to arrive", async || {
            let listing = api.get(&parts_path).await;
            let parts = listing["parts"].as_array()?.len();
            (parts > 0).then_some(parts)
        })
        .await;
    assert!(
        (arrived as u64) < part_count,
        "all {part_count} parts arrived before the reload: the connection was not slow enough"
    );
    let saved = owner
        .js(
            "return localStorage.getItem('vetted.multipart.sofia');",
            vec![],
        )
        .await;
    let saved = saved
        .as_str()
        .expect("the page saved the upload")
        .to_owned();
    assert!(saved.contains(&upload_id), "{saved}");
    assert!(
        !saved.contains(&token) && !saved.contains("http"),
        "the saved record holds a token or a URL: {saved}"
    );
    owner.screenshot("01-sending-in-parts.png").await;

    // The reload cuts the part being sent. The page keeps its session (or is signed in again)
    // and offers to resume.
    owner.client.refresh().await.expect("reloading the page");
    signed_in_again(&owner, &link).await;
    assert_eq!(wait_for_slots(&owner).await, "Café Sud");
    let offer = owner
        .wait_text(
            &format!(".resumable[data-upload-id='{upload_id}']"),
            "big.jpg",
        )
        .await;
    assert!(offer.contains("resume"), "{offer:?}");
    owner.screenshot("02-offer-to-resume.png").await;

    owner.js(PART_SPY, vec![]).await;
    choose_slot(&owner, "gallery-1").await;
    pick_file(&owner, &photo).await;
    let note = owner
        .wait_text(".transfer .transfer-note", "Resuming")
        .await;
    let pattern = regex::Regex::new(
        r"^Resuming your upload of big\.jpg: (\d+) of (\d+) parts? (was|were) already sent\.$",
    )
    .unwrap();
    let found = pattern
        .captures(note.trim())
        .unwrap_or_else(|| panic!("the page says {note:?}"));
    let already: u64 = found[1].parse().unwrap();
    assert_eq!(found[2].parse::<u64>().unwrap(), part_count, "{note:?}");
    assert!(
        already >= 1 && already < part_count,
        "{note:?}, {arrived} seen before the reload"
    );
    owner.screenshot("03-resuming.png").await;

    // The same upload reaches review, with only the missing parts sent after the reload.
    let row_id = wait_for_row(&owner, "big.jpg").await;
    assert_eq!(row_id, upload_id, "the page started another upload");
    let row = wait_for_status(&owner, &upload_id, "IN_REVIEW").await;
    assert!(row.contains("4800 × 3200"), "{row:?}");
    owner.screenshot("04-in-review.png").await;
    let spy = owner.js("return window.partSpy;", vec![]).await;
    let signed: BTreeSet<u64> = spy["signed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    let missing: BTreeSet<u64> = (already + 1..=part_count).collect();
    assert_eq!(signed, missing, "parts signed after the reload: {spy}");
    assert_eq!(
        spy["puts"].as_u64(),
        Some(part_count - already),
        "parts sent after the reload: {spy}"
    );
    let listing_after = api.get_status(&parts_path).await;
    assert_eq!(listing_after.0, 409, "{}", listing_after.1);

    let left = owner
        .js(
            "return localStorage.getItem('vetted.multipart.sofia');",
            vec![],
        )
        .await;
    assert_eq!(left, Value::Null, "the record stayed after completion");
    assert_eq!(owner.count(".resumable").await, 0);
    let mine: Vec<Value> = api.get("/api/uploads").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["filename"] == "big.jpg")
        .cloned()
        .collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["status"], "IN_REVIEW", "{mine:?}");
    assert_eq!(
        mine[0]["bytes"].as_u64().or(mine[0]["size"].as_u64()),
        Some(size)
    );
    owner.close().await;
}

/// A saved upload that can no longer go on (here the owner withdrew it) is forgotten when the
/// same file is picked again: the page says so and sends the file as a new upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_upload_that_cannot_go_on_is_forgotten_and_the_file_starts_over() {
    let artifacts = artifacts_dir("resume-gone");
    let server = Server::start(false).await;
    server
        .create_restaurant("cafe-sud", "Café Sud", &["sofia"])
        .await;
    let driver = Driver::start(&artifacts);
    let token = server.token("sofia", "owner");
    let api = Api {
        base: format!("http://{}", server.addr),
        token: token.clone(),
    };
    let files = tempfile::tempdir().unwrap();
    let photo = files.path().join("big.jpg");
    let bytes = grainy_jpeg(3000, 2000);
    std::fs::write(&photo, &bytes).unwrap();
    // A modification time in whole seconds, so that the page's File.lastModified is known.
    let modified = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    std::fs::File::options()
        .write(true)
        .open(&photo)
        .unwrap()
        .set_modified(modified)
        .unwrap();

    // An upload of this file begun in parts earlier, then withdrawn from the list.
    let grant = api
        .post(
            "/api/uploads",
            json!({"restaurant": "cafe-sud", "slot": "gallery-2", "filename": "big.jpg",
                   "content_type": "image/jpeg", "size": bytes.len(), "method": "multipart"}),
        )
        .await;
    let old_id = grant["upload_id"].as_str().unwrap().to_owned();
    api.post(&format!("/api/uploads/{old_id}/withdraw"), json!({}))
        .await;
    let record = json!([{
        "uploadId": old_id, "restaurant": "cafe-sud", "slot": "gallery-2", "name": "big.jpg",
        "size": bytes.len(), "lastModified": 1_700_000_000_000_u64, "expiresAt": grant["expires_at"],
    }]);

    let owner = driver.open("owner", &artifacts).await;
    let link = format!("{}/#token={token}", server.base);
    owner_signs_in_by_link(&owner, &link).await;
    owner
        .js(
            "localStorage.setItem('vetted.multipart.sofia', JSON.stringify(arguments[0]));",
            vec![record],
        )
        .await;
    owner.client.refresh().await.expect("reloading the page");
    signed_in_again(&owner, &link).await;
    assert_eq!(wait_for_slots(&owner).await, "Café Sud");
    owner
        .wait_text(&format!(".resumable[data-upload-id='{old_id}']"), "big.jpg")
        .await;

    choose_slot(&owner, "gallery-2").await;
    pick_file(&owner, &photo).await;
    let note = owner
        .wait_text(".transfer .transfer-note", "can no longer be resumed")
        .await;
    assert!(
        note.contains("big.jpg") && note.contains("starts over"),
        "{note:?}"
    );
    owner.screenshot("01-starting-over.png").await;
    assert_eq!(
        owner.count(".resumable").await,
        0,
        "the gone upload is still offered"
    );

    let new_id = owner
        .wait_for("a new row for big.jpg", async || {
            let ids = owner
                .js(
                    "return [...document.querySelectorAll('#upload-list > li')]
                       .filter((li) => li.querySelector('.upload-name').textContent === 'big.jpg')
                       .map((li) => li.dataset.uploadId);",
                    vec![],
                )
                .await;
            ids.as_array()?
                .iter()
                .filter_map(Value::as_str)
                .find(|id| *id != old_id)
                .map(str::to_owned)
        })
        .await;
    wait_for_status(&owner, &new_id, "IN_REVIEW").await;
    wait_for_status(&owner, &old_id, "WITHDRAWN").await;
    owner.screenshot("02-in-review.png").await;
    let left = owner
        .js(
            "return localStorage.getItem('vetted.multipart.sofia');",
            vec![],
        )
        .await;
    assert_eq!(left, Value::Null, "a record stayed: {left}");
    owner.close().await;
}

/// After a reload: the page signed in from its session, or else signed in by the link again.
async fn signed_in_again(page: &Page, link: &str) {
    let signed_in = page
        .wait_for(
            "the reloaded page to show the app or the sign-in",
            async || {
                if page.is_displayed("#upload-title").await {
                    Some(true)
                } else if page.is_displayed("#signin").await {
                    Some(false)
                } else {
                    None
                }
            },
        )
        .await;
    if !signed_in {
        owner_signs_in_by_link(page, link).await;
    }
}

/// The owner's own calls to the API, as the page makes them.
struct Api {
    base: String,
    token: String,
}

impl Api {
    /// Sends `method path` with `body` as JSON (when given); answers the status and the JSON.
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut request = reqwest::Client::new()
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(json!(text)))
    }

    async fn get_status(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// The JSON of a 200 answer; panics on any other.
    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.get_status(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// The JSON of a 2xx answer; panics on any other.
    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.call(reqwest::Method::POST, path, Some(body)).await;
        assert!(
            (200..300).contains(&status),
            "POST {path}: {status} {answer}"
        );
        answer
    }
}
