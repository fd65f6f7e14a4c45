//! Between endpoints and deliveries and their rows: ids as text, timestamps as Unix
//! milliseconds, event types as a JSON array of their names.

use std::error::Error as StdError;

use rusqlite::Row;
use rusqlite::types::Type;
use vetted_core::events::EventType;
use vetted_core::webhooks::{
    Delivery, DeliveryId, DeliveryStatus, Endpoint, EndpointId, WebhookSecret,
};
use vetted_core::{RestaurantId, Timestamp};

type Boxed = Box<dyn StdError + Send + Sync>;

/// An endpoint's columns, as [`endpoint`] reads them.
pub(super) const ENDPOINT: &str = "id, url, event_types, restaurant, secret, previous_secret, \
    previous_until, enabled, disabled_reason, created_at, updated_at";

/// A delivery's columns, as [`delivery`] reads them.
pub(super) const DELIVERY: &str = "id, endpoint, event_id, event_type, body, status, attempts, \
    last_response, last_error, next_attempt_at, created_at, updated_at";

fn parse<T, E: Into<Boxed>>(
    row: &Row<'_>,
    idx: usize,
    f: impl FnOnce(&str) -> Result<T, E>,
) -> rusqlite::Result<T> {
    let raw: String = row.get(idx)?;
    f(&raw).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, e.into()))
}

fn parse_opt<T, E: Into<Boxed>>(
    row: &Row<'_>,
    idx: usize,
    f: impl FnOnce(&str) -> Result<T, E>,
) -> rusqlite::Result<Option<T>> {
    let raw: Option<String> = row.get(idx)?;
    raw.map(|raw| {
        f(&raw).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, e.into()))
    })
    .transpose()
}

fn at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Timestamp> {
    Ok(Timestamp::from_unix_millis(row.get(idx)?))
}

fn at_opt(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Timestamp>> {
    Ok(row
        .get::<_, Option<i64>>(idx)?
        .map(Timestamp::from_unix_millis))
}

pub(super) fn event_types_json(types: &[EventType]) -> String {
    serde_json::to_string(types).unwrap_or_else(|_| "[]".to_owned())
}

fn event_type(raw: &str) -> Result<EventType, serde_json::Error> {
    serde_json::from_value(serde_json::Value::String(raw.to_owned()))
}

pub(super) fn endpoint(row: &Row<'_>) -> rusqlite::Result<Endpoint> {
    Ok(Endpoint {
        id: parse(row, 0, EndpointId::parse)?,
        url: row.get(1)?,
        event_types: parse(row, 2, |raw| serde_json::from_str::<Vec<EventType>>(raw))?,
        restaurant: parse_opt(row, 3, RestaurantId::parse)?,
        secret: parse(row, 4, WebhookSecret::parse)?,
        previous_secret: parse_opt(row, 5, WebhookSecret::parse)?,
        previous_until: at_opt(row, 6)?,
        enabled: row.get(7)?,
        disabled_reason: row.get(8)?,
        created_at: at(row, 9)?,
        updated_at: at(row, 10)?,
    })
}

pub(super) fn delivery(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: parse(row, 0, DeliveryId::parse)?,
        endpoint: parse(row, 1, EndpointId::parse)?,
        event_id: row.get(2)?,
        event_type: parse(row, 3, event_type)?,
        body: row.get(4)?,
        status: parse(row, 5, |raw| {
            DeliveryStatus::parse(raw).ok_or_else(|| format!("unknown delivery status {raw:?}"))
        })?,
        attempts: row.get(6)?,
        last_response: row.get(7)?,
        last_error: row.get(8)?,
        next_attempt_at: at_opt(row, 9)?,
        created_at: at(row, 10)?,
        updated_at: at(row, 11)?,
    })
}
