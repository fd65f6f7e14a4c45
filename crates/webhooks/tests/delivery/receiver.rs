//! A real HTTP receiver on 127.0.0.1, started by each check: it records every request and
//! answers from a script (204 once the script is used up).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One request as the receiver got it.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// An answer the receiver gives, in script order.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
}

pub fn answer(status: u16) -> Answer {
    Answer {
        status,
        headers: Vec::new(),
    }
}

#[derive(Clone, Default)]
pub struct Receiver {
    requests: Arc<Mutex<Vec<Request>>>,
    pub script: Arc<Mutex<VecDeque<Answer>>>,
    pub base: String,
}

async fn record(
    State(receiver): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receiver.requests.lock().unwrap().push(Request {
        path: uri.path().to_owned(),
        headers,
        body,
    });
    let next = receiver
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| answer(204));
    let mut response = StatusCode::from_u16(next.status).unwrap().into_response();
    for (name, value) in next.headers {
        response.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

impl Receiver {
    pub async fn start(script: Vec<Answer>) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            base: format!("http://{}", listener.local_addr().unwrap()),
            script: Arc::new(Mutex::new(script.into())),
            ..Receiver::default()
        };
        let app = Router::new().fallback(record).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        receiver
    }

    pub fn url(&self) -> String {
        format!("{}/hook", self.base)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

/// Checks a request's signature with the `standardwebhooks` crate, an implementation that
/// is not ours.
pub fn verify_with(
    secret: &vetted_core::webhooks::WebhookSecret,
    request: &Request,
) -> Result<(), standardwebhooks::WebhookError> {
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        if let Some(value) = request.headers.get(name) {
            headers.insert(name, value.to_str().unwrap().parse().unwrap());
        }
    }
    standardwebhooks::Webhook::new(secret.expose())
        .unwrap()
        .verify(&request.body, &headers)
}

pub fn header(request: &Request, name: &str) -> String {
    request
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}
