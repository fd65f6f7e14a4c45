//! A webhook receiver for `vetted serve`'s `[[webhooks]]`: a tiny HTTP server in the test that
//! checks each delivery's signature and headers and keeps what arrived.
//!
//! Its URL and secret go in the config file given to `vetted serve --config`
//! ([`Webhook::config_toml`]).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// One delivery as it arrived.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: Value,
    pub id_header: String,
    pub type_header: String,
    /// The signature header matched the HMAC of the body with the secret.
    pub signed: bool,
}

#[derive(Clone)]
pub struct Webhook {
    pub url: String,
    pub secret: String,
    received: Arc<Mutex<Vec<Delivery>>>,
}

impl Webhook {
    /// Listens on a free loopback port until the test's runtime ends.
    pub async fn start() -> Webhook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port for the webhook receiver");
        let address: SocketAddr = listener.local_addr().expect("its address");
        let hook = Webhook {
            url: format!("http://{address}/hook"),
            secret: format!("test-secret-{}", address.port()).repeat(2),
            received: Arc::default(),
        };
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(hook.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        hook
    }

    /// The `[[webhooks]]` entry for `vetted serve --config`.
    pub fn config_toml(&self) -> String {
        format!(
            "[[webhooks]]\nurl = \"{}\"\nsecret = \"{}\"\n",
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

    fn expected_signature(&self, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.as_bytes())
            .expect("HMAC takes any key length");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
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
    let delivery = Delivery {
        event,
        id_header: header("x-vetted-event-id"),
        type_header: header("x-vetted-event-type"),
        signed: header("x-vetted-signature") == hook.expected_signature(&body),
    };
    hook.received
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(delivery);
    StatusCode::NO_CONTENT
}
