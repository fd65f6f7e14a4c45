//! `SqliteRestaurants`: the restaurants port over SQLite — restaurants, their members, and
//! what each slot shows, with every change of a slot in one transaction.
//!
//! A slot's row holds its live image (none after a removal), `previous`, `revision`,
//! `changed_at` and the cause; a slot nothing was published to has no row and reads as
//! [`SlotState::empty`]. The history
//! table is keyed by (restaurant, slot, upload), so a retried offer inserts nothing new.
//! `offer`, `roll_back` and `remove` are each one `IMMEDIATE` transaction on the writer: read
//! the slot, let [`SlotState::offer`], [`SlotState::rolled_back_to`] or
//! [`SlotState::removed_by`] decide, and write with
//! `WHERE revision = ?`. The write lock is held from the read to the write, so racing offers
//! and roll backs queue up and each finds the one before it: the outcome is a serial order.

mod rows;
mod slots;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use thiserror::Error;
use vetted_core::ports::{BackendError, Removal, Restaurants, RestaurantsError, Rollback};
use vetted_core::restaurant::{
    Member, MemberRole, OfferOutcome, Restaurant, SlotImage, SlotRef, SlotState,
};
use vetted_core::{OwnerId, RestaurantId, UploadId};

use crate::db::{Db, DbError, Migration, immediate};
use rows::{RESTAURANT, SLOT};

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: "
        CREATE TABLE restaurants (
            id TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            created_at INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE restaurant_members (
            restaurant TEXT NOT NULL REFERENCES restaurants (id),
            user TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('owner', 'staff')),
            added_at INTEGER NOT NULL,
            PRIMARY KEY (restaurant, user)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX restaurant_members_by_user ON restaurant_members (user, restaurant);
        -- No foreign key to restaurants: the port does not say an offer needs the restaurant,
        -- and records from before restaurants existed target 'legacy', which has no row.
        CREATE TABLE restaurant_slots (
            restaurant TEXT NOT NULL,
            slot TEXT NOT NULL,
            upload TEXT NOT NULL,
            object_key TEXT NOT NULL,
            image_type TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            decided_at INTEGER NOT NULL,
            published_at INTEGER NOT NULL,
            previous TEXT,
            revision INTEGER NOT NULL CHECK (revision > 0),
            changed_at INTEGER NOT NULL,
            cause TEXT NOT NULL CHECK (cause IN ('published', 'rolled_back')),
            cause_moderator TEXT CHECK ((cause = 'rolled_back') = (cause_moderator IS NOT NULL)),
            PRIMARY KEY (restaurant, slot)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE restaurant_slot_history (
            restaurant TEXT NOT NULL,
            slot TEXT NOT NULL,
            upload TEXT NOT NULL,
            object_key TEXT NOT NULL,
            image_type TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            decided_at INTEGER NOT NULL,
            published_at INTEGER NOT NULL,
            PRIMARY KEY (restaurant, slot, upload)
        ) STRICT, WITHOUT ROWID;
    ",
    },
    Migration {
        // A removed gallery image leaves its slot's row with no live image: the image columns
        // become nullable (all together, exactly when the cause is 'removed'), and the cause's
        // user column holds the moderator of a rollback or the owner of a removal. SQLite
        // cannot change a column's constraints, so the table is rebuilt and its rows copied.
        version: 2,
        sql: "
        CREATE TABLE restaurant_slots_v2 (
            restaurant TEXT NOT NULL,
            slot TEXT NOT NULL,
            upload TEXT,
            object_key TEXT,
            image_type TEXT,
            width INTEGER,
            height INTEGER,
            bytes INTEGER,
            decided_at INTEGER,
            published_at INTEGER,
            previous TEXT,
            revision INTEGER NOT NULL CHECK (revision > 0),
            changed_at INTEGER NOT NULL,
            cause TEXT NOT NULL CHECK (cause IN ('published', 'rolled_back', 'removed')),
            cause_user TEXT CHECK ((cause = 'published') = (cause_user IS NULL)),
            CHECK ((cause = 'removed') = (upload IS NULL)),
            CHECK (
                (upload IS NULL) = (object_key IS NULL) AND (upload IS NULL) = (image_type IS NULL)
                AND (upload IS NULL) = (width IS NULL) AND (upload IS NULL) = (height IS NULL)
                AND (upload IS NULL) = (bytes IS NULL) AND (upload IS NULL) = (decided_at IS NULL)
                AND (upload IS NULL) = (published_at IS NULL)
            ),
            PRIMARY KEY (restaurant, slot)
        ) STRICT, WITHOUT ROWID;
        INSERT INTO restaurant_slots_v2
            SELECT restaurant, slot, upload, object_key, image_type, width, height, bytes,
                   decided_at, published_at, previous, revision, changed_at, cause,
                   cause_moderator
            FROM restaurant_slots;
        DROP TABLE restaurant_slots;
        ALTER TABLE restaurant_slots_v2 RENAME TO restaurant_slots;
    ",
    },
];

/// Restaurants, members and slots in the shared database.
#[derive(Debug, Clone)]
pub struct SqliteRestaurants {
    db: Db,
}

impl SqliteRestaurants {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

/// What went wrong that the port has no name for.
#[derive(Debug, Error)]
enum Unexpected {
    /// Unreachable while the transaction holds the write lock; kept so that the condition,
    /// not the locking, is what guarantees one effect. Retrying re-reads the slot.
    #[error("{slot} left revision {expected} inside a write transaction")]
    SlotMoved { slot: SlotRef, expected: u64 },
}

fn backend(operation: &'static str) -> impl FnOnce(DbError) -> RestaurantsError {
    move |e| RestaurantsError::Backend(e.into_backend(operation))
}

fn restaurant_exists(conn: &Connection, id: &RestaurantId) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM restaurants WHERE id = ?1")?
        .exists([id.as_str()])
}

/// What a write transaction answers: the port's outcome, or a slot that moved under the lock.
type Answer<T> = Result<Result<T, RestaurantsError>, Unexpected>;

fn settle<T>(
    operation: &'static str,
    answer: Result<Answer<T>, DbError>,
) -> Result<T, RestaurantsError> {
    match answer.map_err(backend(operation))? {
        Ok(result) => result,
        Err(unexpected) => Err(RestaurantsError::Backend(BackendError::retryable(
            operation, unexpected,
        ))),
    }
}

#[async_trait]
impl Restaurants for SqliteRestaurants {
    #[tracing::instrument(skip(self, restaurant), fields(restaurant = %restaurant.id))]
    async fn create(&self, restaurant: &Restaurant) -> Result<(), RestaurantsError> {
        let restaurant = restaurant.clone();
        let id = restaurant.id.clone();
        let inserted = self
            .db
            .call(move |conn| {
                conn.prepare_cached(&format!(
                    "INSERT INTO restaurants ({RESTAURANT}) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO NOTHING"
                ))?
                .execute(params![
                    restaurant.id.as_str(),
                    restaurant.name,
                    restaurant.created_at.unix_millis()
                ])
            })
            .await
            .map_err(backend("restaurants.create"))?;
        if inserted == 0 {
            return Err(RestaurantsError::AlreadyExists(id));
        }
        Ok(())
    }

    async fn get(&self, id: &RestaurantId) -> Result<Restaurant, RestaurantsError> {
        let key = id.clone();
        self.db
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {RESTAURANT} FROM restaurants WHERE id = ?1"
                ))?
                .query_row([key.as_str()], rows::restaurant)
                .optional()
            })
            .await
            .map_err(backend("restaurants.get"))?
            .ok_or_else(|| RestaurantsError::NotFound(id.clone()))
    }

    /// A role change keeps the member's `added_at`: they were added when they were added.
    #[tracing::instrument(skip(self, member), fields(restaurant = %restaurant, user = %member.user))]
    async fn put_member(
        &self,
        restaurant: &RestaurantId,
        member: &Member,
    ) -> Result<(), RestaurantsError> {
        let (id, member) = (restaurant.clone(), member.clone());
        self.db
            .call(move |conn| {
                let tx = immediate(conn)?;
                if !restaurant_exists(&tx, &id)? {
                    return Ok(Err(RestaurantsError::NotFound(id)));
                }
                tx.prepare_cached(
                    "INSERT INTO restaurant_members (restaurant, user, role, added_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (restaurant, user) DO UPDATE SET role = excluded.role",
                )?
                .execute(params![
                    id.as_str(),
                    member.user.as_str(),
                    member.role.as_str(),
                    member.added_at.unix_millis()
                ])?;
                tx.commit()?;
                Ok(Ok(()))
            })
            .await
            .map_err(backend("restaurants.put_member"))?
    }

    #[tracing::instrument(skip(self), fields(restaurant = %restaurant, user = %user))]
    async fn remove_member(
        &self,
        restaurant: &RestaurantId,
        user: &OwnerId,
    ) -> Result<bool, RestaurantsError> {
        let (id, user) = (restaurant.clone(), user.clone());
        self.db
            .call(move |conn| {
                let tx = immediate(conn)?;
                if !restaurant_exists(&tx, &id)? {
                    return Ok(Err(RestaurantsError::NotFound(id)));
                }
                let removed = tx
                    .prepare_cached(
                        "DELETE FROM restaurant_members WHERE restaurant = ?1 AND user = ?2",
                    )?
                    .execute(params![id.as_str(), user.as_str()])?;
                tx.commit()?;
                Ok(Ok(removed > 0))
            })
            .await
            .map_err(backend("restaurants.remove_member"))?
    }

    /// Ordered by user; `NotFound` for a restaurant that does not exist.
    async fn members(&self, restaurant: &RestaurantId) -> Result<Vec<Member>, RestaurantsError> {
        let id = restaurant.clone();
        self.db
            .read(move |conn| {
                if !restaurant_exists(conn, &id)? {
                    return Ok(Err(RestaurantsError::NotFound(id)));
                }
                let mut stmt = conn.prepare_cached(
                    "SELECT user, role, added_at FROM restaurant_members WHERE restaurant = ?1
                     ORDER BY user",
                )?;
                let members = stmt.query_map([id.as_str()], rows::member)?;
                members.collect::<rusqlite::Result<Vec<_>>>().map(Ok)
            })
            .await
            .map_err(backend("restaurants.members"))?
    }

    async fn membership(
        &self,
        restaurant: &RestaurantId,
        user: &OwnerId,
    ) -> Result<Option<MemberRole>, RestaurantsError> {
        let (id, user) = (restaurant.clone(), user.clone());
        self.db
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT role FROM restaurant_members WHERE restaurant = ?1 AND user = ?2",
                )?
                .query_row(params![id.as_str(), user.as_str()], |row| {
                    rows::role(row, 0)
                })
                .optional()
            })
            .await
            .map_err(backend("restaurants.membership"))
    }

    async fn restaurants_of(
        &self,
        user: &OwnerId,
    ) -> Result<Vec<(Restaurant, MemberRole)>, RestaurantsError> {
        let user = user.clone();
        self.db
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT r.id, r.name, r.created_at, m.role
                     FROM restaurant_members m JOIN restaurants r ON r.id = m.restaurant
                     WHERE m.user = ?1 ORDER BY m.restaurant",
                )?;
                let listed = stmt.query_map([user.as_str()], |row| {
                    Ok((rows::restaurant(row)?, rows::role(row, 3)?))
                })?;
                listed.collect()
            })
            .await
            .map_err(backend("restaurants.restaurants_of"))
    }

    async fn slot(&self, slot: &SlotRef) -> Result<SlotState, RestaurantsError> {
        let slot = slot.clone();
        self.db
            .read(move |conn| slots::read_slot(conn, &slot))
            .await
            .map_err(backend("restaurants.slot"))
    }

    /// Ordered by [`Slot`](vetted_core::Slot) (logo, cover, gallery positions by number), which
    /// text order is not, so the rows are sorted here.
    async fn slots(&self, restaurant: &RestaurantId) -> Result<Vec<SlotState>, RestaurantsError> {
        let id = restaurant.clone();
        let mut slots = self
            .db
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {SLOT} FROM restaurant_slots WHERE restaurant = ?1"
                ))?;
                let states = stmt.query_map([id.as_str()], |row| rows::slot_state(&id, row))?;
                states.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await
            .map_err(backend("restaurants.slots"))?;
        slots.sort_by_key(|state| state.slot.slot);
        Ok(slots)
    }

    #[tracing::instrument(skip(self, image), fields(slot = %slot, upload_id = %image.upload))]
    async fn offer(
        &self,
        slot: &SlotRef,
        image: &SlotImage,
    ) -> Result<OfferOutcome, RestaurantsError> {
        let (slot, image) = (slot.clone(), image.clone());
        let answer = self
            .db
            .call(move |conn| slots::offer(conn, &slot, &image))
            .await;
        settle("restaurants.offer", answer)
    }

    async fn history(&self, slot: &SlotRef) -> Result<Vec<SlotImage>, RestaurantsError> {
        let slot = slot.clone();
        self.db
            .read(move |conn| slots::read_history(conn, &slot))
            .await
            .map_err(backend("restaurants.history"))
    }

    /// An image the slot never showed is `NotInHistory` whatever the revision: history only
    /// grows, so no retry could make that roll back succeed.
    #[tracing::instrument(skip(self, rollback), fields(slot = %rollback.slot, to = %rollback.to))]
    async fn roll_back(&self, rollback: &Rollback) -> Result<SlotState, RestaurantsError> {
        let rollback = rollback.clone();
        let answer = self
            .db
            .call(move |conn| slots::roll_back(conn, &rollback))
            .await;
        settle("restaurants.roll_back", answer)
    }

    #[tracing::instrument(skip(self, removal), fields(slot = %removal.slot))]
    async fn remove(&self, removal: &Removal) -> Result<SlotState, RestaurantsError> {
        let removal = removal.clone();
        let answer = self
            .db
            .call(move |conn| slots::remove(conn, &removal))
            .await;
        settle("restaurants.remove", answer)
    }

    #[tracing::instrument(skip(self), fields(slot = %slot, upload = %upload))]
    async fn forget_image(
        &self,
        slot: &SlotRef,
        upload: &UploadId,
    ) -> Result<bool, RestaurantsError> {
        let (restaurant, slot_name, upload) = (
            slot.restaurant.as_str().to_owned(),
            slot.slot.to_string(),
            upload.to_string(),
        );
        let deleted = self
            .db
            .call(move |conn| {
                conn.prepare_cached(
                    "DELETE FROM restaurant_slot_history
                     WHERE restaurant = ?1 AND slot = ?2 AND upload = ?3",
                )?
                .execute(params![restaurant, slot_name, upload])
            })
            .await
            .map_err(backend("restaurants.forget_image"))?;
        Ok(deleted > 0)
    }

    /// One `IMMEDIATE` transaction: nothing of the restaurant is left half deleted.
    #[tracing::instrument(skip(self), fields(restaurant = %restaurant))]
    async fn delete_restaurant(&self, restaurant: &RestaurantId) -> Result<bool, RestaurantsError> {
        let id = restaurant.as_str().to_owned();
        self.db
            .call(move |conn| {
                let tx = immediate(conn)?;
                for table in [
                    "restaurant_members",
                    "restaurant_slots",
                    "restaurant_slot_history",
                ] {
                    tx.prepare_cached(&format!("DELETE FROM {table} WHERE restaurant = ?1"))?
                        .execute([&id])?;
                }
                let deleted = tx
                    .prepare_cached("DELETE FROM restaurants WHERE id = ?1")?
                    .execute([&id])?;
                tx.commit()?;
                Ok(deleted > 0)
            })
            .await
            .map_err(backend("restaurants.delete_restaurant"))
    }
}
