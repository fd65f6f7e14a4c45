//! Identifiers that are parsed once at the edge, so the domain never re-checks a string.
//!
//! The most important of them is [`ObjectKey`]: every key Vetted writes is built here from
//! typed ids, never from anything a user typed, so no filename or header can steer a write.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::restaurant::{RestaurantId, Slot, SlotRef};

/// Why a string was refused as an identifier or key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    #[error("upload id {0:?} is not a lowercase hyphenated UUID")]
    UploadId(String),
    #[error("user id {0:?} must be 1 to 128 characters of A-Z, a-z, 0-9, '-' or '_'")]
    UserId(String),
    #[error("object key {0:?} is not one of the keys Vetted writes")]
    Key(String),
    #[error("execution name {0:?} must be 1 to 80 characters of A-Z, a-z, 0-9, '-' or '_'")]
    ExecutionName(String),
    #[error("task token is empty or longer than 2048 bytes")]
    TaskToken,
    #[error(
        "correlation id {0:?} must be 1 to 128 characters of A-Z, a-z, 0-9, '-', '_', '.' or ':'"
    )]
    CorrelationId(String),
}

/// The id of one upload: a UUIDv7, so ids sort by creation time.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UploadId(Uuid);

impl UploadId {
    /// A fresh id for a new upload.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    /// Accepts only the canonical lowercase hyphenated form, so one upload has one key.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let uuid = Uuid::try_parse(raw).map_err(|_| IdError::UploadId(raw.to_owned()))?;
        if uuid.hyphenated().to_string() != raw {
            return Err(IdError::UploadId(raw.to_owned()));
        }
        Ok(Self(uuid))
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UploadId({self})")
    }
}

impl TryFrom<String> for UploadId {
    type Error = IdError;
    fn try_from(raw: String) -> Result<Self, IdError> {
        Self::parse(&raw)
    }
}

impl From<UploadId> for String {
    fn from(id: UploadId) -> String {
        id.to_string()
    }
}

fn is_user_id(raw: &str) -> bool {
    (1..=128).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

macro_rules! user_id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Accepts 1 to 128 characters of `A-Za-z0-9-_`: safe inside an object key.
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                if is_user_id(raw) {
                    Ok(Self(raw.to_owned()))
                } else {
                    Err(IdError::UserId(raw.to_owned()))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(raw: String) -> Result<Self, IdError> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

user_id_type!(
    /// The owner of an upload: the `sub` of a verified token with the `owners` role.
    OwnerId
);
user_id_type!(
    /// A moderator who decided on an upload: the `sub` of a token with the `moderators` role.
    ModeratorId
);

// Both are a token's `sub` under one alphabet, so either is always a valid other: the
// notification ledger and a purge key a person by that `sub`, whatever their role.
impl From<&ModeratorId> for OwnerId {
    fn from(id: &ModeratorId) -> Self {
        Self(id.0.clone())
    }
}

impl From<&OwnerId> for ModeratorId {
    fn from(id: &OwnerId) -> Self {
        Self(id.0.clone())
    }
}

/// What ties one upload's events together, from presign to publish, for whoever sent it.
///
/// A client may name it when it asks to upload (its own order or request id, say), so that
/// its logs and our events meet; otherwise it is the upload id. It is never part of a key,
/// and its alphabet keeps it safe in logs, headers and JSON alike.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CorrelationId(String);

impl CorrelationId {
    pub const MAX_BYTES: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':');
        if (1..=Self::MAX_BYTES).contains(&raw.len()) && raw.bytes().all(allowed) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(IdError::CorrelationId(raw.to_owned()))
        }
    }

    /// The correlation id of an upload whose client named none: the upload id itself.
    pub fn of_upload(id: &UploadId) -> Self {
        Self(id.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CorrelationId({})", self.0)
    }
}

impl TryFrom<String> for CorrelationId {
    type Error = IdError;
    fn try_from(raw: String) -> Result<Self, IdError> {
        Self::parse(&raw)
    }
}

impl From<CorrelationId> for String {
    fn from(id: CorrelationId) -> String {
        id.0
    }
}

/// A key in the object store. Only the shapes below exist; each is built from typed ids.
///
/// | shape | written by |
/// |---|---|
/// | `incoming/{restaurant}/{slot}/{upload_id}` | the browser, through a presigned POST or PUT |
/// | `quarantine/{restaurant}/{slot}/{upload_id}` | intake, for a file the gate refused |
/// | `sanitized/{upload_id}` | the sanitize step: re-encoded, metadata stripped |
/// | `previews/{upload_id}.webp` | the sanitize step: a small preview for moderators |
/// | `published/{restaurant}/{slot}/{upload_id}` | the publish step: a copy of the sanitized object |
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectKey(String);

/// What an [`ObjectKey`] names, with the ids it was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    Incoming {
        target: SlotRef,
        upload: UploadId,
    },
    Quarantine {
        target: SlotRef,
        upload: UploadId,
    },
    Sanitized(UploadId),
    Preview(UploadId),
    Published {
        target: SlotRef,
        upload: UploadId,
    },
    /// A key under `incoming/` that S3 reported but Vetted never issued. Such a key exists
    /// only so that intake can delete the object; nothing is ever written to one.
    Stray,
}

impl ObjectKey {
    pub const INCOMING_PREFIX: &'static str = "incoming/";
    /// Where approved images are published; the only prefix the public may read (through
    /// the front door's `/media/`, on AWS).
    pub const PUBLISHED_PREFIX: &'static str = "published/";

    pub fn incoming(target: &SlotRef, upload: &UploadId) -> Self {
        Self(format!("incoming/{target}/{upload}"))
    }

    pub fn quarantine(target: &SlotRef, upload: &UploadId) -> Self {
        Self(format!("quarantine/{target}/{upload}"))
    }

    pub fn sanitized(upload: &UploadId) -> Self {
        Self(format!("sanitized/{upload}"))
    }

    pub fn preview(upload: &UploadId) -> Self {
        Self(format!("previews/{upload}.webp"))
    }

    pub fn published(target: &SlotRef, upload: &UploadId) -> Self {
        Self(format!("{}{target}/{upload}", Self::PUBLISHED_PREFIX))
    }

    /// Parses a key Vetted could have written. Anything else, including `..`, `//`, a
    /// trailing slash or extra segments, is refused.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        Self::kind_of(raw).map(|_| Self(raw.to_owned()))
    }

    /// A key reported by a bucket notification: one of ours, or a [`KeyKind::Stray`] key under
    /// `incoming/` (at most 1024 bytes, no control characters). Anything else is refused.
    pub fn from_notification(raw: &str) -> Result<Self, IdError> {
        if Self::kind_of(raw).is_ok() {
            return Ok(Self(raw.to_owned()));
        }
        let plausible = raw.starts_with(Self::INCOMING_PREFIX)
            && raw.len() <= 1024
            && !raw.chars().any(char::is_control);
        if plausible {
            Ok(Self(raw.to_owned()))
        } else {
            Err(IdError::Key(raw.to_owned()))
        }
    }

    /// What this key names.
    pub fn kind(&self) -> KeyKind {
        Self::kind_of(&self.0).unwrap_or(KeyKind::Stray)
    }

    fn kind_of(raw: &str) -> Result<KeyKind, IdError> {
        let bad = || IdError::Key(raw.to_owned());
        let parts: Vec<&str> = raw.split('/').collect();
        match parts.as_slice() {
            ["incoming", restaurant, slot, upload] => Ok(KeyKind::Incoming {
                target: target(restaurant, slot).ok_or_else(bad)?,
                upload: UploadId::parse(upload).map_err(|_| bad())?,
            }),
            ["quarantine", restaurant, slot, upload] => Ok(KeyKind::Quarantine {
                target: target(restaurant, slot).ok_or_else(bad)?,
                upload: UploadId::parse(upload).map_err(|_| bad())?,
            }),
            ["published", restaurant, slot, upload] => Ok(KeyKind::Published {
                target: target(restaurant, slot).ok_or_else(bad)?,
                upload: UploadId::parse(upload).map_err(|_| bad())?,
            }),
            ["sanitized", upload] => Ok(KeyKind::Sanitized(
                UploadId::parse(upload).map_err(|_| bad())?,
            )),
            ["previews", file] => {
                let upload = file.strip_suffix(".webp").ok_or_else(bad)?;
                Ok(KeyKind::Preview(
                    UploadId::parse(upload).map_err(|_| bad())?,
                ))
            }
            _ => Err(bad()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn target(restaurant: &str, slot: &str) -> Option<SlotRef> {
    Some(SlotRef::new(
        RestaurantId::parse(restaurant).ok()?,
        Slot::parse(slot).ok()?,
    ))
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectKey({})", self.0)
    }
}

impl TryFrom<String> for ObjectKey {
    type Error = IdError;
    fn try_from(raw: String) -> Result<Self, IdError> {
        Self::parse(&raw)
    }
}

impl From<ObjectKey> for String {
    fn from(key: ObjectKey) -> String {
        key.0
    }
}

/// The name of a review workflow execution (Step Functions allows 80 characters of
/// `A-Za-z0-9-_`). Derived, never chosen, so that a retried start is recognised.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExecutionName(String);

impl ExecutionName {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let ok = (1..=80).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(IdError::ExecutionName(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExecutionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ExecutionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExecutionName({})", self.0)
    }
}

impl TryFrom<String> for ExecutionName {
    type Error = IdError;
    fn try_from(raw: String) -> Result<Self, IdError> {
        Self::parse(&raw)
    }
}

impl From<ExecutionName> for String {
    fn from(name: ExecutionName) -> String {
        name.0
    }
}

/// A workflow task token: whoever holds it can decide an upload, so it stays on the server.
/// `Debug` and `Display` redact it; only [`TaskToken::expose`] reveals it, to the adapter
/// that sends it back to the workflow engine.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaskToken(String);

impl TaskToken {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        if raw.is_empty() || raw.len() > 2048 {
            return Err(IdError::TaskToken);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The secret itself, for the workflow adapter and the record store only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskToken(<redacted>)")
    }
}

impl TryFrom<String> for TaskToken {
    type Error = IdError;
    fn try_from(raw: String) -> Result<Self, IdError> {
        Self::parse(&raw)
    }
}

impl From<TaskToken> for String {
    fn from(token: TaskToken) -> String {
        token.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> SlotRef {
        SlotRef::new(RestaurantId::parse("r1").unwrap(), Slot::Gallery(3))
    }

    #[test]
    fn an_owner_and_a_moderator_with_one_sub_convert_into_each_other() {
        let owner = OwnerId::parse("sub-1_A").unwrap();
        let moderator = ModeratorId::from(&owner);
        assert_eq!(moderator.as_str(), owner.as_str());
        assert_eq!(OwnerId::from(&moderator), owner);
    }

    #[test]
    fn upload_ids_are_canonical_and_sort_by_creation() {
        let first = UploadId::generate();
        let second = UploadId::generate();
        assert!(first < second);
        assert!(first.to_string() < second.to_string());
        assert_eq!(UploadId::parse(&first.to_string()), Ok(first));
        let upper = first.to_string().to_uppercase();
        assert!(UploadId::parse(&upper).is_err());
        let simple = first.to_string().replace('-', "");
        assert!(UploadId::parse(&simple).is_err());
        assert!(UploadId::parse("").is_err());
    }

    #[test]
    fn correlation_ids_take_a_client_reference_and_refuse_what_would_bend_a_log_line() {
        for good in ["order-1234", "req_9.a:b", &"x".repeat(128)] {
            assert_eq!(CorrelationId::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "a b", "a\nb", "a/b", "é", "a\"b", &"x".repeat(129)] {
            assert_eq!(
                CorrelationId::parse(bad),
                Err(IdError::CorrelationId(bad.to_owned())),
                "{bad:?}"
            );
        }
        let id = UploadId::generate();
        assert_eq!(CorrelationId::of_upload(&id).as_str(), id.to_string());
    }

    #[test]
    fn user_ids_refuse_anything_that_could_bend_a_key() {
        for bad in [
            "",
            "a/b",
            "..",
            ".",
            "a b",
            "a+b",
            "a%2Fb",
            "é",
            &"x".repeat(129),
        ] {
            assert!(OwnerId::parse(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["a", "owner_1", "3f1c-9a", &"x".repeat(128)] {
            assert!(OwnerId::parse(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn every_built_key_parses_back_to_its_kind() {
        let upload = UploadId::generate();
        let cases = [
            (
                ObjectKey::incoming(&target(), &upload),
                KeyKind::Incoming {
                    target: target(),
                    upload,
                },
            ),
            (
                ObjectKey::quarantine(&target(), &upload),
                KeyKind::Quarantine {
                    target: target(),
                    upload,
                },
            ),
            (ObjectKey::sanitized(&upload), KeyKind::Sanitized(upload)),
            (ObjectKey::preview(&upload), KeyKind::Preview(upload)),
            (
                ObjectKey::published(&target(), &upload),
                KeyKind::Published {
                    target: target(),
                    upload,
                },
            ),
        ];
        for (key, kind) in cases {
            assert_eq!(ObjectKey::parse(key.as_str()).unwrap().kind(), kind);
        }
    }

    #[test]
    fn keys_vetted_never_writes_are_refused() {
        let upload = UploadId::generate();
        for bad in [
            format!("incoming/r1/logo/{upload}/"),
            format!("incoming//r1/logo/{upload}"),
            format!("incoming/../logo/{upload}"),
            format!("incoming/r1/../{upload}"),
            format!("incoming/r1/{upload}"),
            format!("incoming/r 1/logo/{upload}"),
            format!("incoming/r1/gallery-0/{upload}"),
            format!("incoming/R1/logo/{upload}"),
            format!("/incoming/r1/logo/{upload}"),
            format!("incoming/r1/logo/{upload}.png"),
            format!("published/{upload}"),
            format!("previews/{upload}"),
            format!("other/{upload}"),
            "incoming/r1/logo".to_owned(),
            String::new(),
        ] {
            assert!(ObjectKey::parse(&bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn notifications_may_name_stray_incoming_keys_and_nothing_else() {
        let upload = UploadId::generate();
        let ours = ObjectKey::from_notification(&format!("incoming/r1/cover/{upload}")).unwrap();
        assert!(matches!(ours.kind(), KeyKind::Incoming { .. }));
        for stray in [
            "incoming/../etc/passwd",
            "incoming//x",
            "incoming/a b/c+d",
            "incoming/é",
        ] {
            let key = ObjectKey::from_notification(stray).unwrap();
            assert_eq!(key.kind(), KeyKind::Stray, "{stray}");
            assert!(ObjectKey::parse(stray).is_err(), "{stray} parsed as ours");
        }
        for bad in [
            "published/x",
            "",
            "incoming/a\nb",
            &format!("incoming/{}", "x".repeat(1020)),
        ] {
            assert!(
                ObjectKey::from_notification(bad).is_err(),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn task_tokens_never_print() {
        let token = TaskToken::parse("secret-token-value").unwrap();
        assert!(!format!("{token:?}").contains("secret"));
        assert_eq!(token.expose(), "secret-token-value");
    }

    #[test]
    fn execution_names_follow_step_functions_rules() {
        assert!(ExecutionName::parse(&"a".repeat(80)).is_ok());
        assert!(ExecutionName::parse(&"a".repeat(81)).is_err());
        assert!(ExecutionName::parse("a:b").is_err());
    }
}
