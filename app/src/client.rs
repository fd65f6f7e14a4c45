//! A client of Vetted's own HTTP API, used the way a browser uses it: ask for an upload,
//! send the file with the presigned POST form (or PUT), and watch the status. `--demo`
//! seeds through it, and `vetted bench` drives load through it.

use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Clone)]
pub struct VettedClient {
    http: reqwest::Client,
    base: String,
}

/// `201` to `POST /api/uploads`.
#[derive(Debug, Clone, Deserialize)]
pub struct Grant {
    pub upload_id: String,
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub fields: Vec<FormField>,
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FormField {
    pub name: String,
    pub value: String,
}

impl VettedClient {
    pub fn new(base: &str) -> anyhow::Result<Self> {
        vetted_api::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// `POST /api/uploads`; `Err` with the API's reason if it refuses.
    pub async fn request_upload(
        &self,
        token: &str,
        slot: &vetted_core::SlotRef,
        filename: &str,
        content_type: &str,
        size: usize,
        method: &str,
    ) -> anyhow::Result<Grant> {
        let body = json!({
            "restaurant": slot.restaurant,
            "slot": slot.slot,
            "filename": filename,
            "content_type": content_type,
            "size": size,
            "method": method,
        });
        let response = self
            .http
            .post(format!("{}/api/uploads", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .context("the API's answer is not JSON")?;
        if status != StatusCode::CREATED {
            bail!("{status} {}: {}", answer["reason"], answer["error"]);
        }
        Ok(serde_json::from_value(answer)?)
    }

    /// Creates a restaurant with these owners (an admin's token), or finds it already there.
    pub async fn ensure_restaurant(
        &self,
        admin_token: &str,
        id: &str,
        name: &str,
        owners: &[&str],
    ) -> anyhow::Result<()> {
        let response = self
            .http
            .post(format!("{}/api/restaurants", self.base))
            .bearer_auth(admin_token)
            .json(&json!({"id": id, "name": name, "owners": owners}))
            .send()
            .await?;
        let status = response.status();
        if status == StatusCode::CREATED || status == StatusCode::CONFLICT {
            return Ok(());
        }
        let answer = response.text().await.unwrap_or_default();
        bail!("creating restaurant {id}: {status} {answer}")
    }

    /// Sends the file as the grant says: a multipart POST with the file last, or a PUT with
    /// exactly the signed headers.
    pub async fn send_file(
        &self,
        grant: &Grant,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<()> {
        let response = match grant.method.as_str() {
            "post" => {
                let mut form = Form::new();
                for field in &grant.fields {
                    form = form.text(field.name.clone(), field.value.clone());
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
            other => bail!("cannot send a file by method {other:?}"),
        };
        if !response.status().is_success() {
            let status = response.status();
            bail!(
                "the upload endpoint answered {status}: {}",
                response.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// `GET /api/uploads/{id}`, as JSON.
    pub async fn upload(&self, token: &str, id: &str) -> anyhow::Result<Value> {
        self.get_json(token, &format!("/api/uploads/{id}")).await
    }

    async fn get_json(&self, token: &str, path: &str) -> anyhow::Result<Value> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await?;
        let status = response.status();
        let answer: Value = response.json().await?;
        if !status.is_success() {
            bail!("GET {path}: {status} {}", answer["reason"]);
        }
        Ok(answer)
    }
}
