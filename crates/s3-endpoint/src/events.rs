//! The S3 event notification JSON that S3 sends to SQS when an object is created, with every
//! field AWS includes, so that the intake worker parses one format on AWS and on one machine.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use vetted_core::Timestamp;

/// What the event says about the request and the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated<'a> {
    /// Becomes `ObjectCreated:Put`, `ObjectCreated:Post` or
    /// `ObjectCreated:CompleteMultipartUpload`.
    pub method: CreatedBy,
    pub region: &'a str,
    pub bucket: &'a str,
    /// The key as stored (not encoded).
    pub key: &'a str,
    pub size: u64,
    /// The ETag, quoted or not; events carry it unquoted.
    pub etag: &'a str,
    pub version_id: Option<&'a str>,
    pub event_time: Timestamp,
    pub principal_id: &'a str,
    pub bucket_owner_id: &'a str,
    pub source_ip: &'a str,
    pub request_id: &'a str,
    pub host_id: &'a str,
    pub configuration_id: &'a str,
    pub sequencer: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreatedBy {
    Put,
    Post,
    CompleteMultipartUpload,
}

#[derive(Serialize)]
struct Notification<'a> {
    #[serde(rename = "Records")]
    records: [Record<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    event_version: &'static str,
    event_source: &'static str,
    aws_region: &'a str,
    event_time: String,
    event_name: &'static str,
    user_identity: Principal<'a>,
    request_parameters: RequestParameters<'a>,
    response_elements: ResponseElements<'a>,
    s3: S3Entity<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Principal<'a> {
    principal_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestParameters<'a> {
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: &'a str,
}

#[derive(Serialize)]
struct ResponseElements<'a> {
    #[serde(rename = "x-amz-request-id")]
    request_id: &'a str,
    #[serde(rename = "x-amz-id-2")]
    host_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct S3Entity<'a> {
    s3_schema_version: &'static str,
    configuration_id: &'a str,
    bucket: BucketEntity<'a>,
    object: ObjectEntity<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BucketEntity<'a> {
    name: &'a str,
    owner_identity: Principal<'a>,
    arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectEntity<'a> {
    key: String,
    size: u64,
    e_tag: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<&'a str>,
    sequencer: &'a str,
}

/// Encodes a key as S3 does in event notifications: form encoding (a space becomes `+`), with
/// `/` left as is.
pub fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'/' => {
                out.push(char::from(byte))
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

impl ObjectCreated<'_> {
    /// The SQS message body: `{"Records":[{...}]}`.
    pub fn to_json(&self) -> String {
        let notification = Notification {
            records: [Record {
                event_version: "2.1",
                event_source: "aws:s3",
                aws_region: self.region,
                event_time: self.event_time.to_rfc3339(),
                event_name: match self.method {
                    CreatedBy::Put => "ObjectCreated:Put",
                    CreatedBy::Post => "ObjectCreated:Post",
                    CreatedBy::CompleteMultipartUpload => "ObjectCreated:CompleteMultipartUpload",
                },
                user_identity: Principal {
                    principal_id: self.principal_id,
                },
                request_parameters: RequestParameters {
                    source_ip_address: self.source_ip,
                },
                response_elements: ResponseElements {
                    request_id: self.request_id,
                    host_id: self.host_id,
                },
                s3: S3Entity {
                    s3_schema_version: "1.0",
                    configuration_id: self.configuration_id,
                    bucket: BucketEntity {
                        name: self.bucket,
                        owner_identity: Principal {
                            principal_id: self.bucket_owner_id,
                        },
                        arn: format!("arn:aws:s3:::{}", self.bucket),
                    },
                    object: ObjectEntity {
                        key: encode_key(self.key),
                        size: self.size,
                        e_tag: self.etag.trim_matches('"'),
                        version_id: self.version_id,
                        sequencer: self.sequencer,
                    },
                },
            }],
        };
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_string(&notification).unwrap_or_default()
    }
}

/// Produces S3-style sequencers: fixed-width uppercase hex that grows with every event, so
/// that events for one key order correctly by string comparison, across restarts too (it
/// starts from the wall clock in nanoseconds).
#[derive(Debug)]
pub struct Sequencer {
    last: AtomicU64,
}

impl Sequencer {
    pub fn new() -> Self {
        Self {
            last: AtomicU64::new(0),
        }
    }

    pub fn next(&self, now: Timestamp) -> String {
        let wall = u64::try_from(now.unix_millis())
            .unwrap_or(0)
            .saturating_mul(1_000_000);
        let mut previous = self.last.load(Ordering::Relaxed);
        loop {
            let candidate = wall.max(previous.saturating_add(1));
            match self.last.compare_exchange_weak(
                previous,
                candidate,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return format!("{candidate:016X}"),
                Err(actual) => previous = actual,
            }
        }
    }
}

impl Default for Sequencer {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn sample() -> ObjectCreated<'static> {
        ObjectCreated {
            method: CreatedBy::Post,
            region: "us-east-1",
            bucket: "uploads",
            key: "incoming/owner 1/a+b",
            size: 1234,
            etag: "\"0123abcd\"",
            version_id: None,
            event_time: Timestamp::from_unix_millis(1_700_000_000_123),
            principal_id: "AWS:AKIDTEST",
            bucket_owner_id: "vetted",
            source_ip: "127.0.0.1",
            request_id: "REQ",
            host_id: "HOST",
            configuration_id: "vetted-intake",
            sequencer: "0000000000000001",
        }
    }

    #[test]
    fn the_event_has_every_field_aws_sends() {
        let json: Value = serde_json::from_str(&sample().to_json()).unwrap();
        let record = &json["Records"][0];
        assert_eq!(record["eventVersion"], "2.1");
        assert_eq!(record["eventSource"], "aws:s3");
        assert_eq!(record["awsRegion"], "us-east-1");
        assert_eq!(record["eventTime"], "2023-11-14T22:13:20.123Z");
        assert_eq!(record["eventName"], "ObjectCreated:Post");
        assert_eq!(record["userIdentity"]["principalId"], "AWS:AKIDTEST");
        assert_eq!(record["requestParameters"]["sourceIPAddress"], "127.0.0.1");
        assert_eq!(record["responseElements"]["x-amz-request-id"], "REQ");
        assert_eq!(record["responseElements"]["x-amz-id-2"], "HOST");
        let s3 = &record["s3"];
        assert_eq!(s3["s3SchemaVersion"], "1.0");
        assert_eq!(s3["configurationId"], "vetted-intake");
        assert_eq!(s3["bucket"]["name"], "uploads");
        assert_eq!(s3["bucket"]["ownerIdentity"]["principalId"], "vetted");
        assert_eq!(s3["bucket"]["arn"], "arn:aws:s3:::uploads");
        assert_eq!(s3["object"]["key"], "incoming/owner+1/a%2Bb");
        assert_eq!(s3["object"]["size"], 1234);
        assert_eq!(s3["object"]["eTag"], "0123abcd");
        assert_eq!(s3["object"]["sequencer"], "0000000000000001");
        assert!(s3["object"].get("versionId").is_none());
    }

    #[test]
    fn the_lambda_events_crate_parses_it() {
        let event: aws_lambda_events::s3::S3Event =
            serde_json::from_str(&sample().to_json()).unwrap();
        let record = &event.records[0];
        assert_eq!(record.event_name.as_deref(), Some("ObjectCreated:Post"));
        assert_eq!(
            record.s3.object.key.as_deref(),
            Some("incoming/owner+1/a%2Bb")
        );
        assert_eq!(record.s3.object.size, Some(1234));
    }

    #[test]
    fn keys_are_encoded_as_s3_encodes_them() {
        assert_eq!(
            encode_key("incoming/owner-1/0190b0c4-7b1e-7000-8000-000000000001"),
            "incoming/owner-1/0190b0c4-7b1e-7000-8000-000000000001"
        );
        assert_eq!(encode_key("a b/é%.txt"), "a+b/%C3%A9%25.txt");
    }

    #[test]
    fn sequencers_grow_and_sort_as_strings() {
        let sequencer = Sequencer::new();
        let now = Timestamp::from_unix_millis(1_700_000_000_000);
        let first = sequencer.next(now);
        let second = sequencer.next(now);
        let earlier_clock = sequencer.next(Timestamp::from_unix_millis(1));
        assert!(first < second && second < earlier_clock);
        assert_eq!(first.len(), 16);
    }
}
