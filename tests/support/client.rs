//! A small client of Vetted's HTTP API, used as a browser uses it: ask for an upload, send
//! the file with the presigned POST form (or PUT) the API returns, read uploads, and, as a
//! moderator, list the review queue and decide.
//!
//! Every call answers with what came back (status and JSON) rather than judging it, so that
//! tests can tell a refusal from a connection that died with the server.

use std::time::Duration;

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

/// What the server answered: its status and JSON body (`Null` when it sent none).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The body's `reason`, for refusals.
    pub fn reason(&self) -> &str {
        self.body["reason"].as_str().unwrap_or("")
    }
}

/// A transport failure: refused, reset, timed out (the server died, or is not there).
pub type Transport = reqwest::Error;

/// The grant `POST /api/uploads` returns.
#[derive(Debug, Clone)]
pub struct Grant {
    pub upload_id: String,
    pub method: String,
    pub url: String,
    pub fields: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
}

impl Grant {
    pub fn parse(body: &Value) -> Grant {
        let text = |v: &Value| v.as_str().expect("a string").to_owned();
        Grant {
            upload_id: text(&body["upload_id"]),
            method: text(&body["method"]),
            url: text(&body["url"]),
            fields: body["fields"]
                .as_array()
                .map(|fields| {
                    fields
                        .iter()
                        .map(|f| (text(&f["name"]), text(&f["value"])))
                        .collect()
                })
                .unwrap_or_default(),
            headers: body["headers"]
                .as_object()
                .map(|h| h.iter().map(|(k, v)| (k.clone(), text(v))).collect())
                .unwrap_or_default(),
        }
    }
}

/// An HTTP client, shared by every call; cheap to clone.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
}

impl Default for Api {
    fn default() -> Self {
        Self::new()
    }
}

impl Api {
    pub fn new() -> Api {
        // reqwest is built without a default crypto provider; only plain http is used here,
        // but the builder wants one installed. Installing twice is refused, harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        Api { http }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `POST {base}/api/uploads` as the owner behind `token`, for `slot`
    /// (`restaurant/slot`, e.g. `r1/gallery-1`).
    #[allow(clippy::too_many_arguments)]
    pub async fn request_upload(
        &self,
        base: &str,
        token: &str,
        slot: &str,
        filename: &str,
        content_type: &str,
        size: usize,
        method: &str,
    ) -> Result<Answer, Transport> {
        let (restaurant, slot) = slot.split_once('/').expect("a restaurant/slot pair");
        let body = json!({
            "restaurant": restaurant,
            "slot": slot,
            "filename": filename,
            "content_type": content_type,
            "size": size,
            "method": method,
        });
        self.request_upload_as(base, token, &body).await
    }

    /// `POST {base}/api/uploads` with `body` as it is, for requests the other helpers do not
    /// build (a pinned `sha256`, malformed fields).
    pub async fn request_upload_as(
        &self,
        base: &str,
        token: &str,
        body: &Value,
    ) -> Result<Answer, Transport> {
        let response = self
            .http
            .post(format!("{base}/api/uploads"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await?;
        answer(response).await
    }

    /// Sends the file as the grant says: a multipart POST with the fields in order and the
    /// file last, or a PUT with exactly the signed headers. The answer's body is the
    /// endpoint's text (S3 answers XML), as a JSON string.
    pub async fn send_file(
        &self,
        grant: &Grant,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<Answer, Transport> {
        let response = match grant.method.as_str() {
            "post" => {
                let mut form = Form::new();
                for (name, value) in &grant.fields {
                    form = form.text(name.clone(), value.clone());
                }
                form = form.part("file", Part::bytes(bytes).file_name(file_name.to_owned()));
                self.http.post(&grant.url).multipart(form).send().await?
            }
            "put" => {
                let mut request = self.http.put(&grant.url).body(bytes);
                for (name, value) in &grant.headers {
                    request = request.header(name, value);
                }
                request.send().await?
            }
            other => panic!("the API granted an upload by method {other:?}"),
        };
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok(Answer {
            status,
            body: Value::String(text),
        })
    }

    /// `GET {base}/api/uploads/{id}` as its owner.
    pub async fn upload(&self, base: &str, token: &str, id: &str) -> Result<Answer, Transport> {
        self.get(&format!("{base}/api/uploads/{id}"), token).await
    }

    /// `GET {base}/api/reviews?status=pending&limit=100`, as a moderator; `after` pages on.
    pub async fn reviews(
        &self,
        base: &str,
        token: &str,
        after: Option<&str>,
    ) -> Result<Answer, Transport> {
        let mut url = format!("{base}/api/reviews?status=pending&limit=100");
        if let Some(after) = after {
            url.push_str("&after=");
            url.push_str(&percent(after));
        }
        self.get(&url, token).await
    }

    /// `POST {base}/api/reviews/{id}/decision`; `reason` only for a decline.
    pub async fn decide(
        &self,
        base: &str,
        token: &str,
        id: &str,
        decision: &str,
        reason: Option<&str>,
    ) -> Result<Answer, Transport> {
        let mut body = json!({ "decision": decision });
        if let Some(reason) = reason {
            body["reason"] = json!(reason);
        }
        let response = self
            .http
            .post(format!("{base}/api/reviews/{id}/decision"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?;
        answer(response).await
    }

    async fn get(&self, url: &str, token: &str) -> Result<Answer, Transport> {
        let response = self.http.get(url).bearer_auth(token).send().await?;
        answer(response).await
    }
}

async fn answer(response: reqwest::Response) -> Result<Answer, Transport> {
    let status = response.status().as_u16();
    let bytes = response.bytes().await?;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok(Answer { status, body })
}

/// Page tokens are URL-safe base64 today; escape anything else rather than trust that.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Api {
    /// Asks for an upload and sends the file by `method` ("post" or "put"); returns the upload
    /// id once the upload endpoint has accepted the file. Panics on anything else.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_file(
        &self,
        base: &str,
        token: &str,
        slot: &str,
        file_name: &str,
        content_type: &str,
        bytes: Vec<u8>,
        method: &str,
    ) -> String {
        let granted = self
            .request_upload(
                base,
                token,
                slot,
                file_name,
                content_type,
                bytes.len(),
                method,
            )
            .await
            .expect("POST /api/uploads");
        assert_eq!(granted.status, 201, "POST /api/uploads: {:?}", granted.body);
        let grant = Grant::parse(&granted.body);
        let sent = self
            .send_file(&grant, file_name, bytes)
            .await
            .expect("sending the file");
        let expected = if method == "post" { 201 } else { 200 };
        assert_eq!(
            sent.status, expected,
            "the upload endpoint refused {file_name}: {:?}",
            sent.body
        );
        grant.upload_id
    }
}
