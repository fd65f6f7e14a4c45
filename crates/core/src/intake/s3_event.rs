//! Reading S3 event notifications as they arrive in an SQS message body.
//!
//! Tolerant on purpose: AWS sends `userIdentity`, `requestParameters`, `responseElements` and
//! `sequencer`; moto and our own embedded endpoint may not, and none of them matter to intake.
//! What matters is read strictly: the event name, the bucket, and the key, which S3 sends
//! URL-encoded with `+` for a space (so a real `+` arrives as `%2B`).
//!
//! One field is Vetted's own: [`DEFERRAL_FIELD`], which S3 never sends, marks a notification
//! that intake re-sent to its own queue because the review start was throttled, and counts
//! how often that happened, so that the backoff grows.

use serde::Deserialize;
use thiserror::Error;

/// What one SQS message from the bucket said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// Sent once when the notification is configured; nothing to do.
    TestEvent,
    /// One or more object events.
    Records(Vec<ObjectCreated>),
}

/// One object event, with its key decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    pub event_name: String,
    pub bucket: String,
    /// The key as stored, decoded from the notification's URL encoding.
    pub key: String,
    pub size: Option<u64>,
    /// Without quotes, as S3 sends it in events.
    pub etag: Option<String>,
    pub version_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NotificationError {
    #[error("message body is not JSON: {0}")]
    NotJson(String),
    #[error("message body is not an S3 event notification: {0}")]
    NotAnS3Event(String),
    #[error("record {index} has a key that is not valid URL-encoded UTF-8: {raw:?}")]
    BadKeyEncoding { index: usize, raw: String },
}

/// The top-level field of a notification intake re-sent after a throttled review start:
/// `{"attempt": n}`, n ≥ 1 the number of deferrals so far. S3 never sends it.
pub const DEFERRAL_FIELD: &str = "VettedDeferral";

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "Event")]
    event: Option<String>,
    #[serde(rename = "Records")]
    records: Option<Vec<Record>>,
    #[serde(rename = "VettedDeferral")]
    deferral: Option<Deferral>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Deferral {
    attempt: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    event_name: String,
    s3: S3Entity,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: BucketEntity,
    object: ObjectEntity,
}

#[derive(Deserialize)]
struct BucketEntity {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectEntity {
    key: String,
    size: Option<u64>,
    e_tag: Option<String>,
    version_id: Option<String>,
}

/// Parses an SQS message body holding an S3 notification.
pub fn parse_notification(body: &str) -> Result<Notification, NotificationError> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| NotificationError::NotJson(e.to_string()))?;
    let parsed: Body = serde_json::from_value(value)
        .map_err(|e| NotificationError::NotAnS3Event(e.to_string()))?;
    if parsed.event.as_deref() == Some("s3:TestEvent") {
        return Ok(Notification::TestEvent);
    }
    let records = parsed.records.ok_or_else(|| {
        NotificationError::NotAnS3Event("neither a TestEvent nor a Records array".to_owned())
    })?;
    records
        .into_iter()
        .enumerate()
        .map(|(index, record)| {
            let raw = record.s3.object.key;
            let key = decode_key(&raw).ok_or(NotificationError::BadKeyEncoding { index, raw })?;
            Ok(ObjectCreated {
                event_name: record.event_name,
                bucket: record.s3.bucket.name,
                key,
                size: record.s3.object.size,
                etag: record
                    .s3
                    .object
                    .e_tag
                    .map(|e| e.trim_matches('"').to_owned()),
                version_id: record.s3.object.version_id,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Notification::Records)
}

/// How many times intake has deferred this notification: 0 for one from S3, else the
/// `attempt` of its [`DEFERRAL_FIELD`].
pub fn deferral_attempt(body: &str) -> Result<u32, NotificationError> {
    let parsed: Body =
        serde_json::from_str(body).map_err(|e| NotificationError::NotAnS3Event(e.to_string()))?;
    Ok(parsed.deferral.map_or(0, |d| d.attempt))
}

/// The notification to re-send for the records at `indices` of `body` (which
/// [`parse_notification`] accepted), marked as deferred for the `attempt`-th time. The records
/// are copied as they came, so the re-sent notification is read exactly as the original was.
pub fn deferred_body(
    body: &str,
    indices: &[usize],
    attempt: u32,
) -> Result<String, NotificationError> {
    let mut value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| NotificationError::NotJson(e.to_string()))?;
    let records = value
        .get("Records")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| NotificationError::NotAnS3Event("no Records array".to_owned()))?;
    let kept = indices
        .iter()
        .map(|&i| {
            records
                .get(i)
                .cloned()
                .ok_or_else(|| NotificationError::NotAnS3Event(format!("no record {i} to re-send")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(object) = value.as_object_mut() {
        object.insert("Records".to_owned(), serde_json::Value::Array(kept));
        object.insert(
            DEFERRAL_FIELD.to_owned(),
            serde_json::json!({ "attempt": attempt }),
        );
    }
    Ok(value.to_string())
}

/// Decodes a key as S3 encodes it in notifications: `+` is a space, `%XX` a byte.
pub fn decode_key(raw: &str) -> Option<String> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|key| key.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str) -> String {
        format!(
            r#"{{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Post",
            "s3":{{"bucket":{{"name":"b","arn":"arn:aws:s3:::b"}},
            "object":{{"key":"{key}","size":12,"eTag":"abc"}}}}}}"#
        )
    }

    #[test]
    fn test_event_is_recognised() {
        let body = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-01-01T00:00:00.000Z","Bucket":"b"}"#;
        assert_eq!(parse_notification(body), Ok(Notification::TestEvent));
    }

    #[test]
    fn several_records_in_one_body_are_all_read() {
        let body = format!(r#"{{"Records":[{},{}]}}"#, record("a"), record("b"));
        let Ok(Notification::Records(records)) = parse_notification(&body) else {
            panic!("not parsed")
        };
        let keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(records[0].size, Some(12));
        assert_eq!(records[0].etag.as_deref(), Some("abc"));
    }

    #[test]
    fn keys_are_decoded_the_way_s3_encodes_them() {
        let cases = [
            ("incoming%2Fo%2Fid", "incoming/o/id"),
            ("a+b", "a b"),
            ("a%2Bb", "a+b"),
            ("caf%C3%A9", "café"),
            ("..%2F..%2Fx", "../../x"),
            ("a%2F%2Fb", "a//b"),
        ];
        for (raw, want) in cases {
            assert_eq!(decode_key(raw).as_deref(), Some(want), "{raw}");
        }
        assert_eq!(decode_key("%FF"), None);
    }

    #[test]
    fn a_full_aws_record_with_every_field_parses() {
        let body = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
          "eventTime":"2024-01-01T00:00:00.000Z","eventName":"ObjectCreated:Put",
          "userIdentity":{"principalId":"AWS:X"},"requestParameters":{"sourceIPAddress":"1.2.3.4"},
          "responseElements":{"x-amz-request-id":"r","x-amz-id-2":"i"},
          "s3":{"s3SchemaVersion":"1.0","configurationId":"c","bucket":{"name":"b","ownerIdentity":{"principalId":"p"},"arn":"arn:aws:s3:::b"},
          "object":{"key":"k","size":1,"eTag":"\"e\"","versionId":"v1","sequencer":"0055"}}}]}"#;
        let Ok(Notification::Records(records)) = parse_notification(body) else {
            panic!("not parsed")
        };
        assert_eq!(records[0].version_id.as_deref(), Some("v1"));
        assert_eq!(records[0].etag.as_deref(), Some("e"));
    }

    #[test]
    fn a_deferred_body_keeps_the_chosen_records_as_they_were_and_counts_attempts() {
        let original = format!(
            r#"{{"Records":[{},{},{}]}}"#,
            record("incoming%2Fa"),
            record("b+c"),
            record("d")
        );
        assert_eq!(deferral_attempt(&original), Ok(0));
        let once = deferred_body(&original, &[0, 2], 1).unwrap();
        assert_eq!(deferral_attempt(&once), Ok(1));
        let Ok(Notification::Records(records)) = parse_notification(&once) else {
            panic!("a deferred body parses: {once}")
        };
        let keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["incoming/a", "d"]);
        let twice = deferred_body(&once, &[1], 2).unwrap();
        assert_eq!(deferral_attempt(&twice), Ok(2));
        let Ok(Notification::Records(records)) = parse_notification(&twice) else {
            panic!("parses")
        };
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].key, "d");
        assert!(deferred_body(&original, &[3], 1).is_err(), "no such record");
    }

    #[test]
    fn a_malformed_deferral_field_is_an_error() {
        for field in [
            r#""x""#,
            r#"{"attempt":-1}"#,
            r#"{"attempt":1,"more":2}"#,
            "{}",
        ] {
            let body = format!(
                r#"{{"Records":[{}],"VettedDeferral":{field}}}"#,
                record("k")
            );
            assert!(
                matches!(
                    parse_notification(&body),
                    Err(NotificationError::NotAnS3Event(_))
                ),
                "{field}"
            );
            assert!(deferral_attempt(&body).is_err(), "{field}");
        }
    }

    #[test]
    fn bodies_that_are_not_s3_events_are_errors_not_panics() {
        assert!(matches!(
            parse_notification("not json"),
            Err(NotificationError::NotJson(_))
        ));
        for body in [
            r#"{}"#,
            r#"[]"#,
            r#"{"Records":[{"eventName":"x"}]}"#,
            r#"{"Records":7}"#,
        ] {
            assert!(
                matches!(
                    parse_notification(body),
                    Err(NotificationError::NotAnS3Event(_))
                ),
                "{body}"
            );
        }
        let bad_key = format!(r#"{{"Records":[{}]}}"#, record("%FF"));
        assert!(matches!(
            parse_notification(&bad_key),
            Err(NotificationError::BadKeyEncoding { index: 0, .. })
        ));
    }
}
