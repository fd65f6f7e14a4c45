//! `EndpointPresigner`: presigned POST forms, PUT and GET URLs for the embedded upload
//! endpoint, signed with its static keys by SigV4 query authentication on vetted-core's key
//! derivation. The embedded backend needs no AWS SDK for it, so `vetted serve` builds without
//! the SDK unless the `aws` feature asks for the AWS backend.
//!
//! A PUT signs `content-length`, `content-type`, `host` and `if-none-match: *`, as the SDK's
//! presigned PutObject does, and `x-amz-checksum-sha256` when the client pinned one; a GET
//! signs `host` only. The payload is `UNSIGNED-PAYLOAD`. The
//! endpoint verifies all of it (`vetted_s3_endpoint`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use vetted_core::ObjectKey;
use vetted_core::Timestamp;
use vetted_core::checksum::CHECKSUM_SHA256_FIELD;
use vetted_core::ports::{PartGrant, SignerError, UploadGrant, UploadSigner};
use vetted_core::presign::sigv4::{self, SigningKeyCache};
// The endpoint verifies with the same encoding; the signer is checked independently against
// AWS's published presigned-GET example in the tests below.
use vetted_core::presign::{
    self, BucketEndpoint, Credentials, PostPolicyRequest, PresignedPost, PresignedPut, S3Target,
};
use vetted_s3_endpoint::sigv4::{UNSIGNED_PAYLOAD, uri_encode};

/// Presigns for one bucket of an S3-compatible endpoint reached with path-style URLs.
#[derive(Debug, Clone)]
pub struct EndpointPresigner {
    target: S3Target,
    /// `http://host:port`, as browsers reach it.
    origin: String,
    /// The `Host` header browsers send to `origin`.
    host: String,
    /// The base path and the bucket, decoded: `/s3/vetted-uploads`.
    bucket_path: String,
    credentials: Credentials,
    keys: Arc<SigningKeyCache>,
}

impl EndpointPresigner {
    /// `target` must be path-style (`BucketEndpoint::PathStyle`) on an http(s) base URL.
    pub fn new(
        target: S3Target,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> anyhow::Result<Self> {
        let BucketEndpoint::PathStyle { base_url } = target.endpoint() else {
            bail!("the embedded endpoint's presigner needs a path-style base URL");
        };
        let (scheme, rest) = base_url
            .split_once("://")
            .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
            .with_context(|| format!("{base_url:?} is not an http(s) URL"))?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() || authority.contains(['?', '#', '@']) {
            bail!("{base_url:?} has no plain host[:port]");
        }
        // Clients leave the default port out of `Host`.
        let default_port = if scheme == "http" { ":80" } else { ":443" };
        let host = authority
            .strip_suffix(default_port)
            .unwrap_or(authority)
            .to_ascii_lowercase();
        let path = percent_decode_str(path.trim_end_matches('/'))
            .decode_utf8()
            .with_context(|| format!("the path of {base_url:?} is not UTF-8"))?;
        Ok(Self {
            origin: format!("{scheme}://{authority}"),
            host,
            bucket_path: format!("{path}/{}", target.bucket()),
            target,
            credentials: Credentials::new(access_key_id, secret_access_key, None),
            keys: Arc::new(SigningKeyCache::new()),
        })
    }

    /// The URL of `key`, presigned for `method` with `headers` (lowercase names, without
    /// `host`) and the `query` parameters signed.
    fn presign(
        &self,
        method: &str,
        key: &ObjectKey,
        query: &[(&str, String)],
        headers: &[(&str, String)],
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<String, SignerError> {
        presign::check_expires_in(expires_in)?;
        let path = uri_encode(&format!("{}/{}", self.bucket_path, key.as_str()), true);
        let mut signed: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        signed.push(("host", &self.host));
        let amz_date = sigv4::amz_date(now);
        let date = &amz_date[..8];
        let signing_key = self.keys.get(
            self.credentials.access_key_id(),
            self.credentials.secret_access_key(),
            date,
            self.target.region(),
        );
        let query = query_signature(QuerySigning {
            method,
            path: &path,
            query: query
                .iter()
                .map(|(name, value)| (*name, value.as_str()))
                .collect(),
            headers: signed,
            access_key_id: self.credentials.access_key_id(),
            signing_key: &signing_key,
            region: self.target.region(),
            amz_date: &amz_date,
            expires_secs: expires_in.as_secs(),
        });
        Ok(format!("{}{path}?{query}", self.origin))
    }
}

impl EndpointPresigner {
    /// A presigned PUT of `key` with `query` and `headers` signed, and those headers to send.
    fn presign_put_of(
        &self,
        key: &ObjectKey,
        query: &[(&str, String)],
        headers: Vec<(&str, String)>,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedPut, SignerError> {
        let url = self.presign("PUT", key, query, &headers, now, expires_in)?;
        Ok(PresignedPut {
            url,
            headers: headers
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
            expires_at: now.saturating_add(expires_in),
        })
    }
}

/// One request to sign with SigV4 query parameters.
struct QuerySigning<'a> {
    method: &'a str,
    /// The URI-encoded path.
    path: &'a str,
    /// The request's own query parameters (`partNumber`, `uploadId`), not yet encoded.
    query: Vec<(&'a str, &'a str)>,
    /// Lowercase names and their values, `host` included.
    headers: Vec<(&'a str, &'a str)>,
    access_key_id: &'a str,
    signing_key: &'a [u8; 32],
    region: &'a str,
    amz_date: &'a str,
    expires_secs: u64,
}

/// The query string of a presigned URL, `X-Amz-Signature` last.
fn query_signature(mut request: QuerySigning<'_>) -> String {
    request.headers.sort_unstable();
    let signed_headers = request
        .headers
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = request
        .headers
        .iter()
        .map(|(name, value)| format!("{name}:{}\n", value.trim()))
        .collect();
    let date = &request.amz_date[..8];
    let credential = sigv4::credential(request.access_key_id, date, request.region);
    let mut parameters = vec![
        ("X-Amz-Algorithm", sigv4::ALGORITHM.to_owned()),
        ("X-Amz-Credential", credential),
        ("X-Amz-Date", request.amz_date.to_owned()),
        ("X-Amz-Expires", request.expires_secs.to_string()),
        ("X-Amz-SignedHeaders", signed_headers.clone()),
    ];
    parameters.extend(
        request
            .query
            .iter()
            .map(|(name, value)| (*name, (*value).to_owned())),
    );
    // Canonical order: sorted by name (byte order puts `X-Amz-*` before lowercase names).
    parameters.sort_unstable();
    let query = parameters
        .iter()
        .map(|(name, value)| format!("{name}={}", uri_encode(value, false)))
        .collect::<Vec<_>>()
        .join("&");
    let canonical_request = format!(
        "{}\n{}\n{query}\n{canonical_headers}\n{signed_headers}\n{UNSIGNED_PAYLOAD}",
        request.method, request.path
    );
    let string_to_sign = format!(
        "{}\n{}\n{date}/{}/{}/aws4_request\n{}",
        sigv4::ALGORITHM,
        request.amz_date,
        request.region,
        sigv4::S3_SERVICE,
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let signature = sigv4::signature(request.signing_key, &string_to_sign);
    format!("{query}&X-Amz-Signature={signature}")
}

#[async_trait]
impl UploadSigner for EndpointPresigner {
    async fn presign_post(&self, grant: &UploadGrant) -> Result<PresignedPost, SignerError> {
        let request = PostPolicyRequest::for_grant(&self.target, grant);
        Ok(presign::presign_post_with(
            &request,
            &self.credentials,
            &self.keys,
        )?)
    }

    async fn presign_put(&self, grant: &UploadGrant) -> Result<PresignedPut, SignerError> {
        let mut headers = vec![
            ("content-length", grant.length.end().to_string()),
            ("content-type", grant.content_type.mime().to_owned()),
            ("if-none-match", "*".to_owned()),
        ];
        if let Some(sha256) = &grant.sha256 {
            headers.push((CHECKSUM_SHA256_FIELD, sha256.to_base64()));
        }
        self.presign_put_of(&grant.key, &[], headers, grant.now, grant.expires_in)
    }

    async fn presign_get(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<String, SignerError> {
        self.presign("GET", key, &[], &[], now, expires_in)
    }

    async fn presign_part(&self, grant: &PartGrant<'_>) -> Result<PresignedPut, SignerError> {
        let headers = vec![
            ("content-length", grant.length.to_string()),
            (CHECKSUM_SHA256_FIELD, grant.sha256.to_base64()),
        ];
        let query = [
            ("partNumber", grant.number.to_string()),
            ("uploadId", grant.multipart.as_str().to_owned()),
        ];
        self.presign_put_of(grant.key, &query, headers, grant.now, grant.expires_in)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The presigned GET of `examplebucket/test.txt` in "Authenticating Requests: Using Query
    /// Parameters (AWS Signature Version 4)".
    #[test]
    fn reproduces_the_documented_presigned_get_example() {
        let signing_key = sigv4::signing_key(
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "20130524",
            "us-east-1",
            "s3",
        );
        let query = query_signature(QuerySigning {
            method: "GET",
            path: "/test.txt",
            query: vec![],
            headers: vec![("host", "examplebucket.s3.amazonaws.com")],
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            signing_key: &signing_key,
            region: "us-east-1",
            amz_date: "20130524T000000Z",
            expires_secs: 86_400,
        });
        assert_eq!(
            query,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    fn presigner(base_url: &str) -> EndpointPresigner {
        let target = S3Target::new(
            "vetted-uploads",
            "us-east-1",
            BucketEndpoint::choose(false, Some(base_url)).unwrap(),
        )
        .unwrap();
        EndpointPresigner::new(target, "AKID", "secret").unwrap()
    }

    #[test]
    fn urls_keep_the_base_path_and_sign_the_host_browsers_send() {
        let at = Timestamp::from_unix_millis(1_451_347_200_000);
        let key = ObjectKey::published(
            &"r1/logo".parse().expect("a valid slot"),
            &vetted_core::UploadId::generate(),
        );
        let url = presigner("http://127.0.0.1:80/s3/")
            .presign("GET", &key, &[], &[], at, Duration::from_secs(60))
            .unwrap();
        let prefix = format!(
            "http://127.0.0.1:80/s3/vetted-uploads/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKID%2F20151229%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20151229T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host\
             &X-Amz-Signature="
        );
        assert!(url.starts_with(&prefix), "{url}");
        assert_eq!(presigner("http://127.0.0.1:80/s3/").host, "127.0.0.1");
        assert_eq!(
            presigner("https://Example.com:8443").host,
            "example.com:8443"
        );
        assert_eq!(
            presigner("http://127.0.0.1:9000/a%20b").bucket_path,
            "/a b/vetted-uploads"
        );
        assert_eq!(uri_encode("/a b/c~é", true), "/a%20b/c~%C3%A9");
        assert_eq!(uri_encode("a/b;c", false), "a%2Fb%3Bc");
    }

    #[test]
    fn a_put_signs_its_headers_and_an_expiry_out_of_range_is_refused() {
        let signer = presigner("http://127.0.0.1:8080/s3");
        let key = ObjectKey::published(
            &"r1/logo".parse().expect("a valid slot"),
            &vetted_core::UploadId::generate(),
        );
        let at = Timestamp::from_unix_millis(1_451_347_200_000);
        let headers = [("if-none-match", "*".to_owned())];
        let url = signer
            .presign("PUT", &key, &[], &headers, at, Duration::from_secs(300))
            .unwrap();
        assert!(
            url.contains("&X-Amz-SignedHeaders=host%3Bif-none-match&"),
            "{url}"
        );
        let get = signer
            .presign("GET", &key, &[], &headers, at, Duration::from_secs(300))
            .unwrap();
        let signature = |url: &str| url.split("X-Amz-Signature=").nth(1).unwrap().to_owned();
        assert_ne!(signature(&url), signature(&get), "the method is signed");
        assert!(
            signer
                .presign(
                    "GET",
                    &key,
                    &[],
                    &[],
                    at,
                    Duration::from_secs(8 * 24 * 3600)
                )
                .is_err()
        );
    }

    #[test]
    fn only_a_path_style_target_is_accepted() {
        let hosted =
            S3Target::new("vetted-uploads", "us-east-1", BucketEndpoint::VirtualHosted).unwrap();
        assert!(EndpointPresigner::new(hosted, "A", "S").is_err());
    }

    /// The pair `vetted serve` runs: this signer's part URLs, sent over HTTP to the embedded
    /// endpoint, which is also the multipart port in process.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_embedded_endpoint_with_this_signer_passes_the_multipart_contract() {
        use std::sync::Arc;
        use vetted_core::SystemClock;
        use vetted_embedded::db::Db;
        use vetted_embedded::fs_store::FsObjectStore;
        use vetted_embedded::sqlite_queue::{QueueConfig, SqliteWorkQueue};
        use vetted_s3_endpoint::{Credentials as EndpointCredentials, S3Config, S3Endpoint};

        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let objects = Arc::new(FsObjectStore::new(dir.path().join("objects")).unwrap());
        let db = Db::open(dir.path().join("vetted.db")).await.unwrap();
        let queue = Arc::new(SqliteWorkQueue::new(
            db,
            "intake",
            QueueConfig {
                visibility_timeout: Duration::from_secs(30),
                max_receives: 5,
            },
        ));
        let endpoint = S3Endpoint::new(
            S3Config::new(
                "vetted-uploads",
                "us-east-1",
                EndpointCredentials {
                    access_key_id: "AKID".to_owned(),
                    secret_access_key: "secret".to_owned(),
                },
                dir.path().join("spool"),
                base.clone(),
            ),
            objects.clone(),
            queue,
            Arc::new(SystemClock),
        )
        .unwrap();
        let router = endpoint.router();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let signer = presigner(&format!("{base}/s3"));
        vetted_contract::multipart::run_all(&vetted_contract::multipart::MultipartStore {
            multipart: endpoint.as_ref(),
            signer: &signer,
            objects: objects.as_ref(),
        })
        .await;
    }
}
