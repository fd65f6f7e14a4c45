//! `SqliteNotifications`: the notifications port over SQLite — one preference row per user
//! and one ledger row per (upload, status, user) in the shared database.
//!
//! A claim is one `INSERT … ON CONFLICT DO NOTHING` on the ledger's primary key, so of any
//! number of claims of a key exactly one inserts.

use async_trait::async_trait;
use rusqlite::types::Type;
use rusqlite::{OptionalExtension, params};
use vetted_core::notify::{EmailAddress, Preference, SentKey};
use vetted_core::ports::{Notifications, NotificationsError};
use vetted_core::{OwnerId, Timestamp, UploadId};

use crate::db::{Db, DbError, Migration};

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    sql: "
        CREATE TABLE notification_preferences (
            user TEXT PRIMARY KEY NOT NULL,
            enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
            address TEXT,
            updated_at INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE notifications_sent (
            upload TEXT NOT NULL,
            status TEXT NOT NULL,
            user TEXT NOT NULL,
            claimed_at INTEGER NOT NULL,
            PRIMARY KEY (upload, status, user)
        ) STRICT, WITHOUT ROWID;
    ",
}];

/// Email preferences and the sent ledger in the shared database.
#[derive(Debug, Clone)]
pub struct SqliteNotifications {
    db: Db,
}

impl SqliteNotifications {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn backend(operation: &'static str) -> impl FnOnce(DbError) -> NotificationsError {
    move |e| NotificationsError::Backend(e.into_backend(operation))
}

fn key_params(key: &SentKey) -> (String, &'static str, String) {
    (
        key.upload.to_string(),
        key.status.as_str(),
        key.user.as_str().to_owned(),
    )
}

#[async_trait]
impl Notifications for SqliteNotifications {
    async fn preference(&self, user: &OwnerId) -> Result<Option<Preference>, NotificationsError> {
        let user = user.as_str().to_owned();
        self.db
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT enabled, address, updated_at FROM notification_preferences
                     WHERE user = ?1",
                )?
                .query_row([user], |row| {
                    let address: Option<String> = row.get(1)?;
                    let address = address
                        .map(|raw| EmailAddress::parse(&raw))
                        .transpose()
                        .map_err(|e| {
                            rusqlite::Error::FromSqlConversionFailure(1, Type::Text, Box::new(e))
                        })?;
                    Ok(Preference {
                        enabled: row.get(0)?,
                        address,
                        updated_at: Timestamp::from_unix_millis(row.get(2)?),
                    })
                })
                .optional()
            })
            .await
            .map_err(backend("notifications.preference"))
    }

    async fn set_preference(
        &self,
        user: &OwnerId,
        preference: &Preference,
    ) -> Result<(), NotificationsError> {
        let user = user.as_str().to_owned();
        let p = preference.clone();
        self.db
            .call(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO notification_preferences (user, enabled, address, updated_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (user) DO UPDATE SET enabled = excluded.enabled,
                         address = excluded.address, updated_at = excluded.updated_at",
                )?
                .execute(params![
                    user,
                    p.enabled,
                    p.address.as_ref().map(EmailAddress::as_str),
                    p.updated_at.unix_millis()
                ])?;
                Ok(())
            })
            .await
            .map_err(backend("notifications.set_preference"))
    }

    #[tracing::instrument(skip_all, fields(upload_id = %key.upload, status = %key.status))]
    async fn claim(&self, key: &SentKey, at: Timestamp) -> Result<bool, NotificationsError> {
        let (upload, status, user) = key_params(key);
        self.db
            .call(move |conn| {
                let inserted = conn
                    .prepare_cached(
                        "INSERT INTO notifications_sent (upload, status, user, claimed_at)
                         VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![upload, status, user, at.unix_millis()])?;
                Ok(inserted > 0)
            })
            .await
            .map_err(backend("notifications.claim"))
    }

    #[tracing::instrument(skip_all, fields(upload_id = %key.upload, status = %key.status))]
    async fn release(&self, key: &SentKey) -> Result<(), NotificationsError> {
        let (upload, status, user) = key_params(key);
        self.db
            .call(move |conn| {
                conn.prepare_cached(
                    "DELETE FROM notifications_sent WHERE upload = ?1 AND status = ?2 AND user = ?3",
                )?
                .execute(params![upload, status, user])?;
                Ok(())
            })
            .await
            .map_err(backend("notifications.release"))
    }

    async fn forget(&self, user: &OwnerId) -> Result<(), NotificationsError> {
        let user = user.as_str().to_owned();
        self.db
            .call(move |conn| {
                conn.prepare_cached("DELETE FROM notification_preferences WHERE user = ?1")?
                    .execute([user])?;
                Ok(())
            })
            .await
            .map_err(backend("notifications.forget"))
    }

    async fn forget_upload(&self, upload: &UploadId) -> Result<(), NotificationsError> {
        let upload = upload.to_string();
        self.db
            .call(move |conn| {
                conn.prepare_cached("DELETE FROM notifications_sent WHERE upload = ?1")?
                    .execute([upload])?;
                Ok(())
            })
            .await
            .map_err(backend("notifications.forget_upload"))
    }
}
