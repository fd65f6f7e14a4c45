//! Where uploads go: a checked bucket name, a region, and the URL style that reaches them
//! (virtual-hosted S3, Transfer Acceleration, or an S3-compatible endpoint with path style).
//!
//! Everything here is checked once, at start-up, so that a request can never produce a URL
//! that S3 (or a browser's TLS check) would refuse.

use std::fmt;

use thiserror::Error;

/// How the bucket is addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketEndpoint {
    /// `https://{bucket}.s3.{region}.amazonaws.com/`: real S3.
    VirtualHosted,
    /// `https://{bucket}.s3-accelerate.amazonaws.com/`: S3 Transfer Acceleration, which the
    /// bucket must have enabled.
    Accelerated,
    /// `{base_url}/{bucket}`: an S3-compatible endpoint (the embedded one, an emulator), with
    /// the bucket in the path. A path in the base URL (e.g. `http://127.0.0.1:8080/s3`) is kept.
    PathStyle { base_url: String },
}

impl BucketEndpoint {
    /// The endpoint a configuration asks for: a base URL means an S3-compatible endpoint
    /// (path style); otherwise real S3, through Transfer Acceleration when `accelerate` is set.
    /// Both at once is refused: acceleration exists only on AWS.
    pub fn choose(accelerate: bool, base_url: Option<&str>) -> Result<Self, TargetError> {
        match (accelerate, base_url) {
            (true, Some(url)) => Err(TargetError::AcceleratedCustomEndpoint(url.to_owned())),
            (false, Some(url)) => Ok(BucketEndpoint::PathStyle {
                base_url: url.to_owned(),
            }),
            (true, None) => Ok(BucketEndpoint::Accelerated),
            (false, None) => Ok(BucketEndpoint::VirtualHosted),
        }
    }
}

/// A bucket, its region and how to reach it. Build it with [`S3Target::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Target {
    bucket: String,
    region: String,
    endpoint: BucketEndpoint,
}

/// Why a bucket, region or endpoint was refused at start-up.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TargetError {
    #[error(
        "bucket name {0:?} is not valid: S3 bucket names are 3 to 63 characters of a-z, 0-9, \
         '.' and '-', starting and ending with a letter or digit"
    )]
    BucketName(String),
    #[error(
        "bucket name {0:?} contains dots, and Transfer Acceleration does not support bucket \
         names with dots (their virtual-hosted names break the TLS certificate of \
         s3-accelerate.amazonaws.com); use a bucket without dots or turn acceleration off"
    )]
    AcceleratedBucketWithDots(String),
    #[error(
        "Transfer Acceleration is on and an endpoint URL ({0}) is set: acceleration exists only \
         on AWS; turn one of them off"
    )]
    AcceleratedCustomEndpoint(String),
    #[error(
        "region {0:?} is not valid: expected lowercase letters, digits and '-' (e.g. eu-west-1)"
    )]
    Region(String),
    #[error(
        "endpoint base URL {0:?} is not valid: expected http:// or https://, a host, an optional \
         path, and no query or fragment"
    )]
    BaseUrl(String),
}

/// Something that works but is probably a mistake; callers log it at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetWarning(pub String);

impl fmt::Display for TargetWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl S3Target {
    pub fn new(
        bucket: impl Into<String>,
        region: impl Into<String>,
        endpoint: BucketEndpoint,
    ) -> Result<Self, TargetError> {
        let (bucket, region) = (bucket.into(), region.into());
        if !is_bucket_name(&bucket) {
            return Err(TargetError::BucketName(bucket));
        }
        if !is_region(&region) {
            return Err(TargetError::Region(region));
        }
        let endpoint = match endpoint {
            BucketEndpoint::Accelerated if bucket.contains('.') => {
                return Err(TargetError::AcceleratedBucketWithDots(bucket));
            }
            BucketEndpoint::PathStyle { base_url } => BucketEndpoint::PathStyle {
                base_url: checked_base_url(&base_url)?,
            },
            other => other,
        };
        Ok(Self {
            bucket,
            region,
            endpoint,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn endpoint(&self) -> &BucketEndpoint {
        &self.endpoint
    }

    /// The URL a browser POSTs its form to.
    pub fn post_url(&self) -> String {
        match &self.endpoint {
            BucketEndpoint::VirtualHosted => {
                format!("https://{}.s3.{}.amazonaws.com/", self.bucket, self.region)
            }
            BucketEndpoint::Accelerated => {
                format!("https://{}.s3-accelerate.amazonaws.com/", self.bucket)
            }
            BucketEndpoint::PathStyle { base_url } => format!("{base_url}/{}", self.bucket),
        }
    }

    /// Settings that work but that a person probably did not mean.
    pub fn warnings(&self) -> Vec<TargetWarning> {
        let mut out = Vec::new();
        if self.bucket.contains('.') && self.endpoint == BucketEndpoint::VirtualHosted {
            out.push(TargetWarning(format!(
                "bucket {:?} contains dots: browsers will refuse the TLS certificate of its \
                 virtual-hosted name; prefer a bucket name without dots",
                self.bucket
            )));
        }
        if let BucketEndpoint::PathStyle { base_url } = &self.endpoint
            && base_url.starts_with("http://")
            && !is_loopback_url(base_url)
        {
            out.push(TargetWarning(format!(
                "upload endpoint {base_url} is plain http on a non-loopback host: uploads and \
                 signatures travel unencrypted"
            )));
        }
        out
    }
}

fn is_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge_ok = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && edge_ok(bytes.first())
        && edge_ok(bytes.last())
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && name.parse::<std::net::Ipv4Addr>().is_err()
}

fn is_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Accepts `http(s)://host[:port][/path]`, returned without a trailing slash.
fn checked_base_url(raw: &str) -> Result<String, TargetError> {
    let bad = || TargetError::BaseUrl(raw.to_owned());
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let host = rest.split('/').next().unwrap_or_default();
    let clean = |c: char| c.is_ascii_alphanumeric() || "-._~/:[]%".contains(c);
    if host.is_empty() || !rest.chars().all(clean) || rest.contains("//") {
        return Err(bad());
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.trim_start_matches("http://");
    ["127.", "localhost", "[::1]"]
        .iter()
        .any(|prefix| rest.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(bucket: &str, endpoint: BucketEndpoint) -> Result<S3Target, TargetError> {
        S3Target::new(bucket, "eu-west-1", endpoint)
    }

    #[test]
    fn each_endpoint_style_has_its_url() {
        let hosted = target("uploads-1", BucketEndpoint::VirtualHosted).unwrap();
        assert_eq!(
            hosted.post_url(),
            "https://uploads-1.s3.eu-west-1.amazonaws.com/"
        );
        let fast = target("uploads-1", BucketEndpoint::Accelerated).unwrap();
        assert_eq!(
            fast.post_url(),
            "https://uploads-1.s3-accelerate.amazonaws.com/"
        );
        let local = target(
            "uploads-1",
            BucketEndpoint::PathStyle {
                base_url: "http://127.0.0.1:8080/s3/".into(),
            },
        )
        .unwrap();
        assert_eq!(local.post_url(), "http://127.0.0.1:8080/s3/uploads-1");
        assert!(local.warnings().is_empty());
    }

    #[test]
    fn acceleration_refuses_dotted_buckets_and_says_why() {
        let err = target("my.uploads", BucketEndpoint::Accelerated).unwrap_err();
        assert_eq!(
            err,
            TargetError::AcceleratedBucketWithDots("my.uploads".into())
        );
        assert!(
            err.to_string()
                .contains("does not support bucket names with dots")
        );
        let hosted = target("my.uploads", BucketEndpoint::VirtualHosted).unwrap();
        assert_eq!(hosted.warnings().len(), 1);
    }

    #[test]
    fn bad_bucket_names_regions_and_urls_are_refused() {
        for bad in [
            "ab",
            "Uploads",
            "-uploads",
            "uploads-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "up_loads",
            &"a".repeat(64),
        ] {
            assert!(
                matches!(
                    target(bad, BucketEndpoint::VirtualHosted),
                    Err(TargetError::BucketName(_))
                ),
                "{bad:?}"
            );
        }
        assert!(S3Target::new("uploads", "EU_WEST", BucketEndpoint::VirtualHosted).is_err());
        for bad in [
            "ftp://x",
            "http://",
            "http://a b",
            "http://h/x?y=1",
            "http://h/x#f",
            "127.0.0.1:8080",
        ] {
            let endpoint = BucketEndpoint::PathStyle {
                base_url: bad.into(),
            };
            assert!(
                matches!(target("uploads", endpoint), Err(TargetError::BaseUrl(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_configured_switches_choose_the_endpoint() {
        assert_eq!(
            BucketEndpoint::choose(false, None),
            Ok(BucketEndpoint::VirtualHosted)
        );
        assert_eq!(
            BucketEndpoint::choose(true, None),
            Ok(BucketEndpoint::Accelerated)
        );
        assert_eq!(
            BucketEndpoint::choose(false, Some("http://127.0.0.1:8080/s3")),
            Ok(BucketEndpoint::PathStyle {
                base_url: "http://127.0.0.1:8080/s3".into()
            })
        );
        assert!(BucketEndpoint::choose(true, Some("http://127.0.0.1:8080")).is_err());
    }

    #[test]
    fn plain_http_off_loopback_is_a_warning() {
        let remote = target(
            "uploads",
            BucketEndpoint::PathStyle {
                base_url: "http://minio.internal:9000".into(),
            },
        )
        .unwrap();
        assert_eq!(remote.warnings().len(), 1);
    }
}
