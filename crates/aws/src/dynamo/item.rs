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
use vetted_core::ports::MultipartUploadId;
use vetted_core::record::{FileName, RecordChanges};
use vetted_core::restaurant::{RestaurantId, Slot, SlotRef};
use vetted_core::{
    ContentSha256, CorrelationId, ExecutionName, ImageType, ModeratorId, ObjectKey, OwnerId,
    Status, TaskToken, Timestamp, UploadId, UploadRecord,
};

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) const ID: &str = "id";
pub(crate) const OWNER: &str = "owner";
pub(crate) const STATUS: &str = "status";
pub(crate) const STATUS_SINCE: &str = "status_since";
pub(crate) const CREATED_AT: &str = "created_at";
pub(crate) const TTL: &str = "ttl";
pub(crate) const TASK_TOKEN: &str = "task_token";
pub(crate) const RESTAURANT: &str = "restaurant";
pub(crate) const SLOT: &str = "slot";
/// A copy of `restaurant` while the status is in progress: the `in-progress` index's key.
pub(crate) const IN_PROGRESS_ATTRIBUTE: &str = "in_progress";
/// The store's multipart upload of a `multipart` intent; written at creation only.
pub(crate) const MULTIPART_UPLOAD_ID: &str = "multipart_upload_id";
/// The content's SHA-256 (base64): the `by-sha256` index's key, present only once known.
pub(crate) const SHA256: &str = "sha256";

/// The restaurant of uploads stored before uploads targeted a slot.
const LEGACY_RESTAURANT: &str = RestaurantId::LEGACY;

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
pub(crate) fn spelled<T: Serialize>(value: &T) -> AttributeValue {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => s(text),
        Ok(other) => s(other.to_string()),
        Err(e) => s(e.to_string()),
    }
}

/// The client's correlation id, written with the intent and never changed; items written
/// before it existed have none, and read back as `None`.
const CORRELATION_ID: &str = "correlation_id";

/// The review's escalation level, written only by `set_review_stage`; absent until then.
pub(crate) const ESCALATION_LEVEL: &str = "escalation_level";

/// The whole record, plus the TTL while it is an intent.
pub(crate) fn to_item(record: &UploadRecord) -> Item {
    let mut item = Item::from([
        (ID.to_owned(), s(record.id.to_string())),
        (OWNER.to_owned(), s(record.owner.as_str())),
        (RESTAURANT.to_owned(), s(record.target.restaurant.as_str())),
        (SLOT.to_owned(), s(record.target.slot.to_string())),
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
        first_approver: record.first_approver.clone(),
        decision: record.decision,
        decided_at: record.decided_at,
        decline_reason: record.decline_reason,
        failure: record.failure.clone(),
        escalation_levels: record.escalation_levels,
        sha256: record.sha256,
    };
    item.extend(
        changed_attributes(&optional)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v)),
    );
    if let Some(correlation_id) = &record.client_correlation_id {
        item.insert(CORRELATION_ID.to_owned(), s(correlation_id.as_str()));
    }
    if let Some(level) = record.escalation_level {
        item.insert(ESCALATION_LEVEL.to_owned(), n(level));
    }
    if let Some(multipart) = &record.multipart_upload_id {
        item.insert(MULTIPART_UPLOAD_ID.to_owned(), s(multipart.as_str()));
    }
    if record.status.is_in_progress() {
        item.insert(
            IN_PROGRESS_ATTRIBUTE.to_owned(),
            s(record.target.restaurant.as_str()),
        );
    }
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
    put(
        "first_approver",
        c.first_approver.as_ref().map(|m| s(m.as_str())),
    );
    put("decision", c.decision.as_ref().map(spelled));
    put("decided_at", c.decided_at.map(millis));
    put("decline_reason", c.decline_reason.as_ref().map(spelled));
    put("failure", c.failure.clone().map(s));
    put("escalation_levels", c.escalation_levels.map(n));
    put("sha256", c.sha256.map(|sha| s(sha.to_base64())));
    out
}

/// Reads attributes of one item, naming the item and attribute in every error.
pub(crate) struct Reader<'a> {
    item: &'a Item,
    id: String,
}

impl<'a> Reader<'a> {
    /// `id` names the item in errors.
    pub(crate) fn new(item: &'a Item, id: impl Into<String>) -> Self {
        Self {
            item,
            id: id.into(),
        }
    }

    pub(crate) fn bad(&self, attribute: &'static str, problem: impl ToString) -> BadItem {
        BadItem {
            id: self.id.clone(),
            attribute,
            problem: problem.to_string(),
        }
    }

    pub(crate) fn text(&self, name: &'static str) -> Result<Option<&'a str>, BadItem> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(true)) => Ok(None),
            Some(AttributeValue::S(text)) => Ok(Some(text)),
            Some(_) => Err(self.bad(name, "not a string")),
        }
    }

    pub(crate) fn number<T: std::str::FromStr>(
        &self,
        name: &'static str,
    ) -> Result<Option<T>, BadItem>
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

    pub(crate) fn parsed<T, E: ToString>(
        &self,
        name: &'static str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Result<Option<T>, BadItem> {
        self.text(name)?
            .map(|text| parse(text).map_err(|e| self.bad(name, e)))
            .transpose()
    }

    pub(crate) fn spelled<T: DeserializeOwned>(
        &self,
        name: &'static str,
    ) -> Result<Option<T>, BadItem> {
        self.parsed(name, |text| {
            serde_json::from_value(serde_json::Value::String(text.to_owned()))
        })
    }

    pub(crate) fn instant(&self, name: &'static str) -> Result<Option<Timestamp>, BadItem> {
        Ok(self.number::<i64>(name)?.map(Timestamp::from_unix_millis))
    }

    pub(crate) fn required<T>(&self, name: &'static str, value: Option<T>) -> Result<T, BadItem> {
        value.ok_or_else(|| self.bad(name, "missing"))
    }
}

/// The slot an upload targets. Items written before uploads had one carry neither attribute;
/// they read back as `legacy/gallery-1`, as the embedded store's migrated rows do, so that an
/// owner's listing still reads them.
fn target(r: &Reader<'_>) -> Result<SlotRef, BadItem> {
    let restaurant = r.parsed(RESTAURANT, RestaurantId::parse)?;
    let slot = r.parsed(SLOT, Slot::parse)?;
    if restaurant.is_none() && slot.is_none() {
        return Ok(SlotRef::new(
            RestaurantId::parse(LEGACY_RESTAURANT).map_err(|e| r.bad(RESTAURANT, e))?,
            Slot::Gallery(1),
        ));
    }
    Ok(SlotRef::new(
        r.required(RESTAURANT, restaurant)?,
        r.required(SLOT, slot)?,
    ))
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
        target: target(&r)?,
        filename: r.required("filename", r.parsed("filename", FileName::from_stored)?)?,
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
        first_approver: r.parsed("first_approver", ModeratorId::parse)?,
        decision: r.spelled("decision")?,
        decided_at: r.instant("decided_at")?,
        decline_reason: r.spelled("decline_reason")?,
        failure: r.text("failure")?.map(str::to_owned),
        client_correlation_id: r.parsed(CORRELATION_ID, CorrelationId::parse)?,
        escalation_level: r.number(ESCALATION_LEVEL)?,
        escalation_levels: r.number("escalation_levels")?,
        sha256: r.parsed("sha256", str::parse::<ContentSha256>)?,
        multipart_upload_id: r.parsed(MULTIPART_UPLOAD_ID, MultipartUploadId::parse)?,
    })
}

#[cfg(test)]
mod tests {
    use vetted_core::record::UploadMethod;

    use super::*;

    fn record() -> UploadRecord {
        UploadRecord::new_intent(
            UploadId::generate(),
            OwnerId::parse("owner-1").unwrap(),
            "trattoria-roma/gallery-12".parse().unwrap(),
            FileName::parse("a.png").unwrap(),
            ImageType::Png,
            10,
            UploadMethod::Post,
            Timestamp::from_unix_millis(1_000),
            Timestamp::from_unix_millis(2_000),
        )
    }

    #[test]
    fn a_record_reads_back_with_its_slot_and_decision_time() {
        let mut record = record();
        record.decided_at = Some(Timestamp::from_unix_millis(1_500));
        let item = to_item(&record);
        assert_eq!(item.get(SLOT), Some(&s("gallery-12")));
        assert_eq!(item.get("decided_at"), Some(&n(1_500)));
        assert_eq!(from_item(&item).unwrap(), record);
    }

    #[test]
    fn items_from_before_slots_read_back_as_legacy_and_half_a_target_is_refused() {
        let mut item = to_item(&record());
        item.remove(RESTAURANT);
        let half = from_item(&item).unwrap_err();
        assert_eq!(half.attribute, RESTAURANT);
        item.remove(SLOT);
        let old = from_item(&item).unwrap();
        assert_eq!(old.target, "legacy/gallery-1".parse().unwrap());
    }
}
