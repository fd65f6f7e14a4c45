//! The slot transactions: reading a slot and its history, and `offer`, `roll_back` and
//! `remove`, each one `IMMEDIATE` transaction that lets the reference semantics in `SlotState`
//! decide.

use rusqlite::{Connection, OptionalExtension, params};
use vetted_core::ports::{Removal, RestaurantsError, Rollback};
use vetted_core::restaurant::{OfferOutcome, SlotImage, SlotRef, SlotState};

use super::rows::{self, IMAGE, SLOT};
use super::{Answer, Unexpected};
use crate::db::immediate;

/// The slot as stored, or [`SlotState::empty`].
pub(super) fn read_slot(conn: &Connection, slot: &SlotRef) -> rusqlite::Result<SlotState> {
    let stored = conn
        .prepare_cached(&format!(
            "SELECT {SLOT} FROM restaurant_slots WHERE restaurant = ?1 AND slot = ?2"
        ))?
        .query_row(
            params![slot.restaurant.as_str(), slot.slot.to_string()],
            |row| rows::slot_state(&slot.restaurant, row),
        )
        .optional()?;
    Ok(stored.unwrap_or_else(|| SlotState::empty(slot.clone())))
}

pub(super) fn read_history(conn: &Connection, slot: &SlotRef) -> rusqlite::Result<Vec<SlotImage>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {IMAGE} FROM restaurant_slot_history WHERE restaurant = ?1 AND slot = ?2
         ORDER BY decided_at DESC, upload DESC"
    ))?;
    let images = stmt.query_map(
        params![slot.restaurant.as_str(), slot.slot.to_string()],
        |row| rows::image(row, 0),
    )?;
    images.collect()
}

/// Writes `next` over the slot if it is still at `from` (0: no row yet); returns whether it did.
pub(super) fn write_slot(tx: &Connection, next: &SlotState, from: u64) -> rusqlite::Result<bool> {
    let mut values = rows::slot_values(next)?;
    values.push(rows::integer(from)?);
    let written = tx
        .prepare_cached(&format!(
            "INSERT INTO restaurant_slots (restaurant, {SLOT})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT (restaurant, slot) DO UPDATE SET
                upload = excluded.upload, object_key = excluded.object_key,
                image_type = excluded.image_type, width = excluded.width,
                height = excluded.height, bytes = excluded.bytes,
                decided_at = excluded.decided_at, published_at = excluded.published_at,
                previous = excluded.previous, revision = excluded.revision,
                changed_at = excluded.changed_at, cause = excluded.cause,
                cause_user = excluded.cause_user
             WHERE restaurant_slots.revision = ?16"
        ))?
        .execute(rusqlite::params_from_iter(values.iter()))?;
    Ok(written == 1)
}

/// Records `image` in the slot's history (once per upload) and makes it live if
/// [`SlotState::offer`] says so.
pub(super) fn offer(
    conn: &mut Connection,
    slot: &SlotRef,
    image: &SlotImage,
) -> rusqlite::Result<Answer<OfferOutcome>> {
    let tx = immediate(conn)?;
    let current = read_slot(&tx, slot)?;
    let mut values = vec![
        rows::text(slot.restaurant.as_str()),
        rows::text(slot.slot.to_string()),
    ];
    values.extend(rows::image_values(image)?);
    tx.prepare_cached(&format!(
        "INSERT INTO restaurant_slot_history (restaurant, slot, {IMAGE})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (restaurant, slot, upload) DO NOTHING"
    ))?
    .execute(rusqlite::params_from_iter(values.iter()))?;
    let outcome = current.offer(image);
    if let OfferOutcome::BecameLive(next) = &outcome
        && !write_slot(&tx, next, current.revision)?
    {
        return Ok(Err(Unexpected::SlotMoved {
            slot: slot.clone(),
            expected: current.revision,
        }));
    }
    tx.commit()?;
    Ok(Ok(Ok(outcome)))
}

/// Puts `rollback.to` back if it is in the slot's history and the slot is at the expected
/// revision, as [`SlotState::rolled_back_to`] says.
pub(super) fn roll_back(
    conn: &mut Connection,
    rollback: &Rollback,
) -> rusqlite::Result<Answer<SlotState>> {
    let tx = immediate(conn)?;
    let slot = &rollback.slot;
    let image = tx
        .prepare_cached(&format!(
            "SELECT {IMAGE} FROM restaurant_slot_history
                 WHERE restaurant = ?1 AND slot = ?2 AND upload = ?3"
        ))?
        .query_row(
            params![
                slot.restaurant.as_str(),
                slot.slot.to_string(),
                rollback.to.to_string()
            ],
            |row| rows::image(row, 0),
        )
        .optional()?;
    let Some(image) = image else {
        return Ok(Ok(Err(RestaurantsError::NotInHistory {
            slot: slot.clone(),
            upload: rollback.to,
        })));
    };
    let current = read_slot(&tx, slot)?;
    if current.revision != rollback.expected_revision {
        return Ok(Ok(Err(RestaurantsError::SlotMoved {
            expected: rollback.expected_revision,
            current: Box::new(current),
        })));
    }
    let next = current.rolled_back_to(&image, rollback.moderator.clone(), rollback.at);
    if !write_slot(&tx, &next, current.revision)? {
        return Ok(Err(Unexpected::SlotMoved {
            slot: slot.clone(),
            expected: current.revision,
        }));
    }
    tx.commit()?;
    Ok(Ok(Ok(next)))
}

/// Empties the slot if it shows an image and is at the expected revision, as
/// [`SlotState::removed_by`] says.
pub(super) fn remove(
    conn: &mut Connection,
    removal: &Removal,
) -> rusqlite::Result<Answer<SlotState>> {
    let tx = immediate(conn)?;
    let current = read_slot(&tx, &removal.slot)?;
    if current.revision != removal.expected_revision {
        return Ok(Ok(Err(RestaurantsError::SlotMoved {
            expected: removal.expected_revision,
            current: Box::new(current),
        })));
    }
    if current.live.is_none() {
        return Ok(Ok(Err(RestaurantsError::SlotEmpty {
            current: Box::new(current),
        })));
    }
    let next = current.removed_by(removal.owner.clone(), removal.at);
    if !write_slot(&tx, &next, current.revision)? {
        return Ok(Err(Unexpected::SlotMoved {
            slot: removal.slot.clone(),
            expected: current.revision,
        }));
    }
    tx.commit()?;
    Ok(Ok(Ok(next)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_match_the_column_lists() {
        let columns = |list: &str| list.split(',').count();
        // write_slot binds the restaurant, then SLOT's columns (15 placeholders), then the
        // expected revision; the history insert binds restaurant and slot, then IMAGE's.
        assert_eq!(1 + columns(SLOT), 15);
        assert_eq!(2 + columns(IMAGE), 10);
    }
}
