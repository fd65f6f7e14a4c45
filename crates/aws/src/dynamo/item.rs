//! An upload record as a DynamoDB item: one attribute per field, numbers for instants.
//!
//! Instants are Unix milliseconds (`N`) so that the status and owner indexes sort by them;
//! enums are stored in their JSON spelling, so the table reads like the API. Absent optional
//! fields are absent attributes, never empty strings.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;
use vetted_core::record::{FileName, RecordChanges};
use vetted_core::{
    ExecutionName, ImageType, ModeratorId, ObjectKey, OwnerId, Status, TaskToken, Timestamp,
    UploadId, UploadRecord,
};

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) const ID: &str = "id";
pub(crate) const OWNER: &str = "owner";
pub(crate) const STATUS: &str = "status";
pub(crate) const STATUS_SINCE: &str = "status_since";
pub(crate) const CREATED_AT: &str = "created_at";
pub(crate) const TTL: &str = "ttl";
pub(crate) const TASK_TOKEN: &str = "task_token";

/// How long past `expires_at` an unused intent stays, so that a late upload still finds it
/// and is told `intent_expired` instead of "unknown key".
const TTL_GRACE_SECONDS: i64 = 24 * 60 * 60;

/// A stored item that does not read back as a record.
#[derive(Debug, Error)]
#[error("item {id}: attribute {attribute}: {problem}")]
pub struct BadItem {
    pub id: String,
    pub attribute: &'static str,
    pub problem: String,
}

pub(crate) fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

pub(crate) fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

pub(crate) fn millis(at: Timestamp) -> AttributeValue {
    n(at.unix_millis())
}

/// The JSON spelling of a unit enum (`"image/png"`, `"low_quality"`), as a string attribute.
fn spelled<T: Serialize>(value: &T) -> AttributeValue {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => s(text),
        Ok(other) => s(other.to_string()),
        Err(e) => s(e.to_string()),
    }
}

/// The whole record, plus the TTL while it is an intent.
pub(crate) fn to_item(record: &UploadRecord) -> Item {
    let mut item = Item::from([
        (ID.to_owned(), s(record.id.to_string())),
        (OWNER.to_owned(), s(record.owner.as_str())),
        ("filename".to_owned(), s(record.filename.as_str())),
        ("declared_type".to_owned(), s(record.declared_type.mime())),
        ("declared_size".to_owned(), n(record.declared_size)),
        ("method".to_owned(), spelled(&record.method)),
        ("key".to_owned(), s(record.key.as_str())),
        (STATUS.to_owned(), s(record.status.as_str())),
        (STATUS_SINCE.to_owned(), millis(record.status_since)),
        (CREATED_AT.to_owned(), millis(record.created_at)),
        ("expires_at".to_owned(), millis(record.expires_at)),
    ]);
    let optional = RecordChanges {
        reason: record.reason,
        detected_type: record.detected_type,
        width: record.width,
        height: record.height,
        bytes: record.bytes,
        object_version: record.object_version.clone(),
        execution_name: record.execution_name.clone(),
        task_token: record.task_token.clone(),
        moderator: record.moderator.clone(),
        decision: record.decision,
        decline_reason: record.decline_reason,
        failure: record.failure.clone(),
    };
    item.extend(
        changed_attributes(&optional)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v)),
    );
    if record.status == Status::AwaitingUpload {
        let ttl = record
            .expires_at
            .unix_seconds()
            .saturating_add(TTL_GRACE_SECONDS);
        item.insert(TTL.to_owned(), n(ttl));
    }
    item
}

/// The attributes a transition writes: one per `Some` change.
pub(crate) fn changed_attributes(c: &RecordChanges) -> Vec<(&'static str, AttributeValue)> {
    let mut out = Vec::new();
    let mut put = |name: &'static str, value: Option<AttributeValue>| {
        if let Some(value) = value {
            out.push((name, value));
        }
    };
    put("reason", c.reason.as_ref().map(spelled));
    put("detected_type", c.detected_type.map(|t| s(t.mime())));
    put("width", c.width.map(n));
    put("height", c.height.map(n));
    put("bytes", c.bytes.map(n));
    put("object_version", c.object_version.clone().map(s));
    put(
        "execution_name",
        c.execution_name.as_ref().map(|e| s(e.as_str())),
    );
    put(TASK_TOKEN, c.task_token.as_ref().map(|t| s(t.expose())));
    put("moderator", c.moderator.as_ref().map(|m| s(m.as_str())));
    put("decision", c.decision.as_ref().map(spelled));
    put("decline_reason", c.decline_reason.as_ref().map(spelled));
    put("failure", c.failure.clone().map(s));
    out
}

/// Reads attributes of one item, naming the item and attribute in every error.
struct Reader<'a> {
    item: &'a Item,
    id: String,
}

impl<'a> Reader<'a> {
    fn bad(&self, attribute: &'static str, problem: impl ToString) -> BadItem {
        BadItem {
            id: self.id.clone(),
            attribute,
            problem: problem.to_string(),
        }
    }

    fn text(&self, name: &'static str) -> Result<Option<&'a str>, BadItem> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(true)) => Ok(None),
            Some(AttributeValue::S(text)) => Ok(Some(text)),
            Some(_) => Err(self.bad(name, "not a string")),
        }
    }

    fn number<T: std::str::FromStr>(&self, name: &'static str) -> Result<Option<T>, BadItem>
    where
        T::Err: ToString,
    {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(true)) => Ok(None),
            Some(AttributeValue::N(text)) => text
                .parse()
                .map(Some)
                .map_err(|e: T::Err| self.bad(name, e)),
            Some(_) => Err(self.bad(name, "not a number")),
        }
    }

    fn parsed<T, E: ToString>(
        &self,
        name: &'static str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Result<Option<T>, BadItem> {
        self.text(name)?
            .map(|text| parse(text).map_err(|e| self.bad(name, e)))
            .transpose()
    }

    fn spelled<T: DeserializeOwned>(&self, name: &'static str) -> Result<Option<T>, BadItem> {
        self.parsed(name, |text| {
            serde_json::from_value(serde_json::Value::String(text.to_owned()))
        })
    }

    fn instant(&self, name: &'static str) -> Result<Option<Timestamp>, BadItem> {
        Ok(self.number::<i64>(name)?.map(Timestamp::from_unix_millis))
    }

    fn required<T>(&self, name: &'static str, value: Option<T>) -> Result<T, BadItem> {
        value.ok_or_else(|| self.bad(name, "missing"))
    }
}

pub(crate) fn from_item(item: &Item) -> Result<UploadRecord, BadItem> {
    let id_text = match item.get(ID) {
        Some(AttributeValue::S(text)) => text.clone(),
        _ => "<no id>".to_owned(),
    };
    let r = Reader { item, id: id_text };
    let key = |text: &str| ObjectKey::parse(text).or_else(|_| ObjectKey::from_notification(text));
    Ok(UploadRecord {
        id: r.required(ID, r.parsed(ID, UploadId::parse)?)?,
        owner: r.required(OWNER, r.parsed(OWNER, OwnerId::parse)?)?,
        filename: r.required("filename", r.parsed("filename", FileName::parse)?)?,
        declared_type: r.required(
            "declared_type",
            r.parsed("declared_type", ImageType::from_mime)?,
        )?,
        declared_size: r.required("declared_size", r.number("declared_size")?)?,
        method: r.required("method", r.spelled("method")?)?,
        key: r.required("key", r.parsed("key", key)?)?,
        status: r.required(STATUS, r.parsed(STATUS, str::parse::<Status>)?)?,
        status_since: r.required(STATUS_SINCE, r.instant(STATUS_SINCE)?)?,
        created_at: r.required(CREATED_AT, r.instant(CREATED_AT)?)?,
        expires_at: r.required("expires_at", r.instant("expires_at")?)?,
        reason: r.spelled("reason")?,
        detected_type: r.parsed("detected_type", ImageType::from_mime)?,
        width: r.number("width")?,
        height: r.number("height")?,
        bytes: r.number("bytes")?,
        object_version: r.text("object_version")?.map(str::to_owned),
        execution_name: r.parsed("execution_name", ExecutionName::parse)?,
        task_token: r.parsed(TASK_TOKEN, TaskToken::parse)?,
        moderator: r.parsed("moderator", ModeratorId::parse)?,
        decision: r.spelled("decision")?,
        decline_reason: r.spelled("decline_reason")?,
        failure: r.text("failure")?.map(str::to_owned),
    })
}
