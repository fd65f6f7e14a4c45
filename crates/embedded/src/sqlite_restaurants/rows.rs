//! Between restaurants, members and slots and their rows: ids and slots in their one
//! spelling, timestamps as Unix milliseconds, a slot's live image in columns of its own.

use std::error::Error as StdError;

use rusqlite::types::{Type, Value};
use vetted_core::restaurant::{
    Member, MemberRole, Restaurant, SlotChangeCause, SlotImage, SlotRef, SlotState,
};
use vetted_core::{
    ImageType, ModeratorId, ObjectKey, OwnerId, RestaurantId, Slot, Timestamp, UploadId,
};

type Boxed = Box<dyn StdError + Send + Sync>;

/// A restaurant's columns, as [`restaurant`] reads them.
pub(super) const RESTAURANT: &str = "id, name, created_at";

/// A slot image's columns in `restaurant_slot_history`, as [`image`] reads them from 0.
pub(super) const IMAGE: &str =
    "upload, object_key, image_type, width, height, bytes, decided_at, published_at";

/// A slot's columns in `restaurant_slots`, as [`slot_state`] reads them.
pub(super) const SLOT: &str = "slot, upload, object_key, image_type, width, height, bytes, \
    decided_at, published_at, previous, revision, changed_at, cause, cause_user";

const PUBLISHED: &str = "published";
const ROLLED_BACK: &str = "rolled_back";
const REMOVED: &str = "removed";

fn to_sql_failure(e: impl Into<Boxed>) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(e.into())
}

pub(super) fn integer(value: u64) -> rusqlite::Result<Value> {
    i64::try_from(value)
        .map(Value::Integer)
        .map_err(to_sql_failure)
}

pub(super) fn text(value: impl Into<String>) -> Value {
    Value::Text(value.into())
}

pub(super) fn millis(at: Timestamp) -> Value {
    Value::Integer(at.unix_millis())
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

fn unsigned(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let value: i64 = row.get(idx)?;
    u64::try_from(value)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, e.into()))
}

fn timestamp(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Timestamp> {
    row.get(idx).map(Timestamp::from_unix_millis)
}

pub(super) fn restaurant(row: &rusqlite::Row<'_>) -> rusqlite::Result<Restaurant> {
    Ok(Restaurant {
        id: parse(row, 0, RestaurantId::parse)?,
        name: row.get(1)?,
        created_at: timestamp(row, 2)?,
    })
}

/// A member in a row of `user, role, added_at`.
pub(super) fn member(row: &rusqlite::Row<'_>) -> rusqlite::Result<Member> {
    Ok(Member {
        user: parse(row, 0, OwnerId::parse)?,
        role: role(row, 1)?,
        added_at: timestamp(row, 2)?,
    })
}

pub(super) fn role(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<MemberRole> {
    parse(row, idx, |raw| {
        MemberRole::parse(raw).ok_or_else(|| format!("{raw:?} is not a member role"))
    })
}

/// The values of [`IMAGE`]'s columns.
pub(super) fn image_values(image: &SlotImage) -> rusqlite::Result<Vec<Value>> {
    Ok(vec![
        text(image.upload.to_string()),
        text(image.key.as_str()),
        text(image.image_type.mime()),
        Value::Integer(i64::from(image.width)),
        Value::Integer(i64::from(image.height)),
        integer(image.bytes)?,
        millis(image.decided_at),
        millis(image.published_at),
    ])
}

/// The image in [`IMAGE`]'s columns, starting at column `from`.
pub(super) fn image(row: &rusqlite::Row<'_>, from: usize) -> rusqlite::Result<SlotImage> {
    Ok(SlotImage {
        upload: parse(row, from, UploadId::parse)?,
        key: parse(row, from + 1, ObjectKey::parse)?,
        image_type: parse(row, from + 2, ImageType::from_mime)?,
        width: row.get(from + 3)?,
        height: row.get(from + 4)?,
        bytes: unsigned(row, from + 5)?,
        decided_at: timestamp(row, from + 6)?,
        published_at: timestamp(row, from + 7)?,
    })
}

/// The values of [`SLOT`]'s columns, restaurant first: a stored slot always has a cause and
/// a change time, since only a change of the live image writes one; its image columns are
/// NULL after a removal.
pub(super) fn slot_values(state: &SlotState) -> rusqlite::Result<Vec<Value>> {
    let (Some(changed_at), Some(cause)) = (state.changed_at, &state.cause) else {
        return Err(to_sql_failure(format!(
            "{} has no change time or cause to store",
            state.slot
        )));
    };
    let (cause, user) = match cause {
        SlotChangeCause::Published => (PUBLISHED, Value::Null),
        SlotChangeCause::RolledBack { moderator } => (ROLLED_BACK, text(moderator.as_str())),
        SlotChangeCause::Removed { owner } => (REMOVED, text(owner.as_str())),
    };
    let mut values = vec![
        text(state.slot.restaurant.as_str()),
        text(state.slot.slot.to_string()),
    ];
    match &state.live {
        Some(live) => values.extend(image_values(live)?),
        None => values.extend(std::iter::repeat_n(Value::Null, IMAGE.split(',').count())),
    }
    values.extend([
        state
            .previous
            .map_or(Value::Null, |previous| text(previous.to_string())),
        integer(state.revision)?,
        millis(changed_at),
        text(cause),
        user,
    ]);
    Ok(values)
}

/// The slot in a row selected with [`SLOT`], of `restaurant`.
pub(super) fn slot_state(
    restaurant: &RestaurantId,
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<SlotState> {
    let cause = match row.get_ref(12)?.as_str()? {
        PUBLISHED => SlotChangeCause::Published,
        ROLLED_BACK => SlotChangeCause::RolledBack {
            moderator: parse(row, 13, ModeratorId::parse)?,
        },
        REMOVED => SlotChangeCause::Removed {
            owner: parse(row, 13, OwnerId::parse)?,
        },
        other => {
            let e = format!("{other:?} is not a slot change cause");
            return Err(rusqlite::Error::FromSqlConversionFailure(
                12,
                Type::Text,
                e.into(),
            ));
        }
    };
    let previous: Option<String> = row.get(9)?;
    Ok(SlotState {
        slot: SlotRef::new(restaurant.clone(), parse(row, 0, Slot::parse)?),
        live: match row.get_ref(1)? {
            rusqlite::types::ValueRef::Null => None,
            _ => Some(image(row, 1)?),
        },
        previous: previous
            .map(|raw| {
                UploadId::parse(&raw)
                    .map_err(|e| rusqlite::Error::FromSqlConversionFailure(9, Type::Text, e.into()))
            })
            .transpose()?,
        revision: unsigned(row, 10)?,
        changed_at: Some(timestamp(row, 11)?),
        cause: Some(cause),
    })
}
