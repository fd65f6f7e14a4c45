//! Between an `UploadRecord` and its row: one typed column per field, enums as their stable
//! spellings, timestamps as Unix milliseconds.

use std::error::Error as StdError;
use std::str::FromStr;

use rusqlite::types::{Type, Value};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use serde::de::DeserializeOwned;
use vetted_core::ports::MultipartUploadId;
use vetted_core::record::FileName;
use vetted_core::{
    ContentSha256, CorrelationId, ExecutionName, ImageType, ModeratorId, ObjectKey, OwnerId,
    ReasonCode, RestaurantId, Slot, SlotRef, Status, TaskToken, Timestamp, UploadId, UploadRecord,
};

/// Every column, in the order [`Row::values`] produces and [`Row::record`] reads.
pub(super) const COLUMNS: &str = "id, owner, filename, declared_type, declared_size, method, \
    object_key, status, status_since, created_at, expires_at, reason, detected_type, width, \
    height, bytes, object_version, execution_name, task_token, moderator, decision, \
    decline_reason, failure, restaurant, slot, decided_at, correlation_id, first_approver, \
    escalation_level, escalation_levels, sha256, multipart_upload_id";

pub(super) const PLACEHOLDERS: &str = "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, \
     ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32";

pub(super) struct Row;

type Boxed = Box<dyn StdError + Send + Sync>;

fn to_sql_failure(e: impl Into<Boxed>) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(e.into())
}

/// The serde spelling of a unit enum (`"snake_case"`), as the API and events show it.
fn spelling<T: Serialize>(value: &T) -> rusqlite::Result<String> {
    match serde_json::to_value(value).map_err(to_sql_failure)? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(to_sql_failure(format!("{other} is not a unit enum"))),
    }
}

fn from_spelling<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
}

fn integer(value: u64) -> rusqlite::Result<Value> {
    i64::try_from(value)
        .map(Value::Integer)
        .map_err(to_sql_failure)
}

fn text(value: impl Into<String>) -> Value {
    Value::Text(value.into())
}

fn opt<T>(
    value: Option<&T>,
    f: impl FnOnce(&T) -> rusqlite::Result<Value>,
) -> rusqlite::Result<Value> {
    value.map_or(Ok(Value::Null), f)
}

/// Reads text column `idx` and parses it, naming the column in the error.
fn parse<T, E: Into<Boxed>>(
    row: &rusqlite::Row<'_>,
    idx: usize,
    f: impl FnOnce(&str) -> Result<T, E>,
) -> rusqlite::Result<T> {
    let raw: String = row.get(idx)?;
    f(&raw).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, e.into()))
}

fn parse_opt<T, E: Into<Boxed>>(
    row: &rusqlite::Row<'_>,
    idx: usize,
    f: impl FnOnce(&str) -> Result<T, E>,
) -> rusqlite::Result<Option<T>> {
    let raw: Option<String> = row.get(idx)?;
    raw.map(|raw| {
        f(&raw).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, e.into()))
    })
    .transpose()
}

fn unsigned(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Option<u64>> {
    let value: Option<i64> = row.get(idx)?;
    value
        .map(|v| {
            u64::try_from(v).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, e.into())
            })
        })
        .transpose()
}

fn millis(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Timestamp> {
    row.get(idx).map(Timestamp::from_unix_millis)
}

/// A key as stored: one Vetted issued, or a stray one from a notification.
fn object_key(raw: &str) -> Result<ObjectKey, vetted_core::ids::IdError> {
    ObjectKey::parse(raw).or_else(|_| ObjectKey::from_notification(raw))
}

impl Row {
    /// The values of every column of `r`, in [`COLUMNS`] order.
    pub(super) fn values(r: &UploadRecord) -> rusqlite::Result<Vec<Value>> {
        Ok(vec![
            text(r.id.to_string()),
            text(r.owner.as_str()),
            text(r.filename.as_str()),
            text(r.declared_type.mime()),
            integer(r.declared_size)?,
            text(spelling(&r.method)?),
            text(r.key.as_str()),
            text(r.status.as_str()),
            Value::Integer(r.status_since.unix_millis()),
            Value::Integer(r.created_at.unix_millis()),
            Value::Integer(r.expires_at.unix_millis()),
            opt(r.reason.as_ref(), |v| Ok(text(v.as_str())))?,
            opt(r.detected_type.as_ref(), |v| Ok(text(v.mime())))?,
            opt(r.width.as_ref(), |v| Ok(Value::Integer(i64::from(*v))))?,
            opt(r.height.as_ref(), |v| Ok(Value::Integer(i64::from(*v))))?,
            opt(r.bytes.as_ref(), |v| integer(*v))?,
            opt(r.object_version.as_ref(), |v| Ok(text(v.as_str())))?,
            opt(r.execution_name.as_ref(), |v| Ok(text(v.as_str())))?,
            opt(r.task_token.as_ref(), |v| Ok(text(v.expose())))?,
            opt(r.moderator.as_ref(), |v| Ok(text(v.as_str())))?,
            opt(r.decision.as_ref(), |v| spelling(v).map(text))?,
            opt(r.decline_reason.as_ref(), |v| spelling(v).map(text))?,
            opt(r.failure.as_ref(), |v| Ok(text(v.as_str())))?,
            text(r.target.restaurant.as_str()),
            text(r.target.slot.to_string()),
            opt(r.decided_at.as_ref(), |v| {
                Ok(Value::Integer(v.unix_millis()))
            })?,
            opt(r.client_correlation_id.as_ref(), |v| Ok(text(v.as_str())))?,
            opt(r.first_approver.as_ref(), |v| Ok(text(v.as_str())))?,
            opt(r.escalation_level.as_ref(), |v| {
                Ok(Value::Integer(i64::from(*v)))
            })?,
            opt(r.escalation_levels.as_ref(), |v| {
                Ok(Value::Integer(i64::from(*v)))
            })?,
            opt(r.sha256.as_ref(), |v| Ok(text(v.to_base64())))?,
            opt(r.multipart_upload_id.as_ref(), |v| Ok(text(v.as_str())))?,
        ])
    }

    /// The record in a row selected with [`COLUMNS`].
    pub(super) fn record(row: &rusqlite::Row<'_>) -> rusqlite::Result<UploadRecord> {
        Ok(UploadRecord {
            id: parse(row, 0, UploadId::parse)?,
            owner: parse(row, 1, OwnerId::parse)?,
            filename: parse(row, 2, FileName::from_stored)?,
            declared_type: parse(row, 3, ImageType::from_mime)?,
            declared_size: unsigned(row, 4)?.ok_or(rusqlite::Error::InvalidColumnType(
                4,
                "declared_size".into(),
                Type::Null,
            ))?,
            method: parse(row, 5, from_spelling)?,
            key: parse(row, 6, object_key)?,
            status: parse(row, 7, Status::from_str)?,
            status_since: millis(row, 8)?,
            created_at: millis(row, 9)?,
            expires_at: millis(row, 10)?,
            reason: parse_opt(row, 11, ReasonCode::from_str)?,
            detected_type: parse_opt(row, 12, ImageType::from_mime)?,
            width: row.get(13)?,
            height: row.get(14)?,
            bytes: unsigned(row, 15)?,
            object_version: row.get(16)?,
            execution_name: parse_opt(row, 17, ExecutionName::parse)?,
            task_token: parse_opt(row, 18, TaskToken::parse)?,
            moderator: parse_opt(row, 19, ModeratorId::parse)?,
            decision: parse_opt(row, 20, from_spelling)?,
            decline_reason: parse_opt(row, 21, from_spelling)?,
            failure: row.get(22)?,
            target: SlotRef::new(
                parse(row, 23, RestaurantId::parse)?,
                parse(row, 24, Slot::parse)?,
            ),
            decided_at: row
                .get::<_, Option<i64>>(25)?
                .map(Timestamp::from_unix_millis),
            client_correlation_id: parse_opt(row, 26, CorrelationId::parse)?,
            first_approver: parse_opt(row, 27, ModeratorId::parse)?,
            escalation_level: row.get(28)?,
            escalation_levels: row.get(29)?,
            sha256: parse_opt(row, 30, ContentSha256::from_str)?,
            multipart_upload_id: parse_opt(row, 31, MultipartUploadId::parse)?,
        })
    }
}

/// The record with `id`, if there is one.
pub(super) fn select(conn: &Connection, id: &UploadId) -> rusqlite::Result<Option<UploadRecord>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM uploads WHERE id = ?1"))?
        .query_row([id.to_string()], Row::record)
        .optional()
}

/// Writes every field a transition may change, if the row is still in `from`.
pub(super) fn update(
    conn: &Connection,
    next: &UploadRecord,
    from: Status,
) -> rusqlite::Result<usize> {
    let values = Row::values(next)?;
    // Columns 8 to 23, 26, 28, 30 and 31 of COLUMNS are the ones a transition may change; the
    // first seven, the target (24, 25), the correlation id (27) and the multipart upload (32)
    // are fixed at creation, and
    // the escalation level (29) changes only through `update_review_stage`.
    let mut stmt = conn.prepare_cached(
        "UPDATE uploads SET status = ?8, status_since = ?9, created_at = ?10, expires_at = ?11,
            reason = ?12, detected_type = ?13, width = ?14, height = ?15, bytes = ?16,
            object_version = ?17, execution_name = ?18, task_token = ?19, moderator = ?20,
            decision = ?21, decline_reason = ?22, failure = ?23, decided_at = ?26,
            first_approver = ?28, escalation_levels = ?30, sha256 = ?31
         WHERE id = ?1 AND status = ?33",
    )?;
    let mut params: Vec<Value> = values;
    params.push(text(from.as_str()));
    stmt.execute(rusqlite::params_from_iter(params.iter()))
}

/// Writes the escalation level and task token of `next`, a record still `IN_REVIEW` (the
/// caller checked it inside the same transaction).
pub(super) fn update_review_stage(
    conn: &Connection,
    next: &UploadRecord,
) -> rusqlite::Result<usize> {
    let mut stmt = conn.prepare_cached(
        "UPDATE uploads SET escalation_level = ?2, task_token = ?3
         WHERE id = ?1 AND status IN ('IN_REVIEW', 'AWAITING_SECOND')",
    )?;
    stmt.execute(rusqlite::params![
        next.id.to_string(),
        next.escalation_level.map(i64::from),
        next.task_token.as_ref().map(|t| t.expose().to_owned()),
    ])
}
