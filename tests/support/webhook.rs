//! A webhook receiver for `vetted serve`'s `[[webhooks]]`: a tiny HTTP server in the test that
//! checks each delivery's Standard Webhooks signature and headers and keeps what arrived.
//!
//! Its URL and secret go in the config file given to `vetted serve --config`
//! ([`Webhook::config_toml`]).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use vetted_core::webhooks::WebhookSecret;
use vetted_core::webhooks::sign::{Received, verify};

/// One delivery as it arrived.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: Value,
    /// `webhook-id`.
    pub id_header: String,
    /// The `webhook-signature` verified with the secret, at a timestamp within 5 minutes.
    pub signed: bool,
    /// `webhook-timestamp` and `webhook-signature` as they came, and the body, for checks
    /// with another secret (an endpoint made with the admin API has its own).
    pub timestamp_header: String,
    pub signature_header: String,
    pub body: Vec<u8>,
}

impl Delivery {
    /// Whether it verifies with `secret` (`whsec_…`) now.
    pub fn verifies_with(&self, secret: &str) -> bool {
        let secret = WebhookSecret::parse(secret).expect("a whsec_ secret");
        let received = Received {
            id: Some(&self.id_header),
            timestamp: Some(&self.timestamp_header),
            signature: Some(&self.signature_header),
        };
        verify(&secret, &received, &self.body, unix_now(), 300).is_ok()
    }
}

fn unix_now() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    i64::try_from(now).expect("seconds fit")
}

#[derive(Clone)]
pub struct Webhook {
    pub url: String,
    pub secret: String,
    received: Arc<Mutex<Vec<Delivery>>>,
    /// `Some`: the first attempt of each `webhook-id` is answered 503, and its id kept here,
    /// so that every delivery waits for a retry (and a kill can find it pending).
    refused_first: Option<Arc<Mutex<HashSet<String>>>>,
}

impl Webhook {
    /// Listens on a free loopback port until the test's runtime ends.
    pub async fn start() -> Webhook {
        Self::listen(false).await
    }

    /// [`Webhook::start`], answering the first attempt of every event 503 Service Unavailable.
    pub async fn start_refusing_first_attempts() -> Webhook {
        Self::listen(true).await
    }

    /// How many first attempts were refused.
    pub fn refused_count(&self) -> usize {
        self.refused_first
            .as_ref()
            .map_or(0, |ids| ids.lock().unwrap_or_else(|p| p.into_inner()).len())
    }

    async fn listen(refuse_first: bool) -> Webhook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port for the webhook receiver");
        let address: SocketAddr = listener.local_addr().expect("its address");
        let hook = Webhook {
            url: format!("http://{address}/hook"),
            secret: format!("test-secret-{}", address.port()).repeat(2),
            received: Arc::default(),
            refused_first: refuse_first.then(Arc::default),
        };
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(hook.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        hook
    }

    /// The `[[webhooks]]` entry for `vetted serve --config`, and the development setting
    /// that lets deliveries reach a loopback `http` receiver.
    pub fn config_toml(&self) -> String {
        format!(
            "[webhook_delivery]\nallow_private_addresses_for_development = true\n\n[[webhooks]]\nurl = \"{}\"\nsecret = \"{}\"\n",
            self.url, self.secret
        )
    }

    /// Every delivery so far, in arrival order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A secret that is not `whsec_…` is the key itself (24 to 64 characters).
    fn verifies(&self, headers: &HeaderMap, body: &[u8]) -> bool {
        let secret = WebhookSecret::from_key(self.secret.as_bytes()).expect("a 24-64 byte secret");
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        verify(
            &secret,
            &Received::from_lookup(header),
            body,
            unix_now(),
            300,
        )
        .is_ok()
    }
}

async fn receive(State(hook): State<Webhook>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if let Some(refused) = &hook.refused_first {
        let first_attempt = refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(header("webhook-id"));
        if first_attempt {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    let delivery = Delivery {
        event,
        id_header: header("webhook-id"),
        signed: hook.verifies(&headers, &body),
        timestamp_header: header("webhook-timestamp"),
        signature_header: header("webhook-signature"),
        body: body.to_vec(),
    };
    hook.received
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(delivery);
    StatusCode::NO_CONTENT
}
