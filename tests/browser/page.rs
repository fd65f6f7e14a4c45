//! One browser window driven through WebDriver, with the few verbs the tests speak: go to a
//! URL, find by CSS, wait until something holds (saving a screenshot when it never does),
//! press a key as the keyboard would, and save screenshots as test artefacts.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::{Client, Locator};
use serde_json::Value;

use crate::harness::STEP_DEADLINE;

pub struct Page {
    pub client: Client,
    name: String,
    artifacts: PathBuf,
}

impl Page {
    pub fn new(client: Client, name: &str, artifacts: &Path) -> Self {
        Self {
            client,
            name: name.to_owned(),
            artifacts: artifacts.to_owned(),
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigating");
    }

    /// Sizes the window so that the page itself gets `width`×`height` (the window's frame,
    /// which `--window-size` and WebDriver count, comes on top).
    pub async fn set_viewport(&self, width: u32, height: u32) {
        let frame = self
            .js(
                "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight];",
                vec![],
            )
            .await;
        let extra = |i: usize| u32::try_from(frame[i].as_u64().unwrap_or(0)).unwrap_or(0);
        self.client
            .set_window_size(width + extra(0), height + extra(1))
            .await
            .expect("sizing the window");
    }

    /// Saves what the window shows as `{artifacts}/{file}` and answers the path.
    pub async fn screenshot(&self, file: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = self.artifacts.join(file);
        std::fs::write(&path, png).expect("writing the screenshot");
        path
    }

    /// Polls `check` until it answers `Some`. Past the deadline it saves a screenshot named
    /// after `what` and fails, saying what never happened.
    pub async fn wait_for<T>(&self, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + STEP_DEADLINE;
        loop {
            if let Some(value) = check().await {
                return value;
            }
            if Instant::now() > deadline {
                let slug: String = what
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                let shot = self
                    .screenshot(&format!("FAILED-{}-{slug}.png", self.name))
                    .await;
                panic!(
                    "{}: gave up waiting for {what} (screenshot: {})",
                    self.name,
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The first element matching `css`, if there is one now.
    pub async fn find(&self, css: &str) -> Option<Element> {
        self.client.find(Locator::Css(css)).await.ok()
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map_or(0, |all| all.len())
    }

    /// The rendered text of the first element matching `css`, if there is one now.
    pub async fn text(&self, css: &str) -> Option<String> {
        self.find(css).await?.text().await.ok()
    }

    pub async fn is_displayed(&self, css: &str) -> bool {
        match self.find(css).await {
            Some(element) => element.is_displayed().await.unwrap_or(false),
            None => false,
        }
    }

    /// Waits until an element matching `css` is displayed, and answers it.
    pub async fn wait_displayed(&self, css: &str) -> Element {
        self.wait_for(&format!("{css} to be displayed"), async || {
            let element = self.find(css).await?;
            element.is_displayed().await.ok()?.then_some(element)
        })
        .await
    }

    /// Waits until the text of the first element matching `css` contains `needle` (ignoring
    /// case, as badges are upper-cased by CSS), and answers the text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let lower = needle.to_lowercase();
        self.wait_for(&format!("{css} to say {needle:?}"), async || {
            let text = self.text(css).await?;
            text.to_lowercase().contains(&lower).then_some(text)
        })
        .await
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .expect("running a script")
    }

    /// Presses and releases one key, as a keyboard does (keydown and keyup on the focus).
    pub async fn press(&self, key: char) {
        let keys = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client
            .perform_actions(keys)
            .await
            .expect("pressing a key");
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
