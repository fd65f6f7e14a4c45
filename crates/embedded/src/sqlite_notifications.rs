//! `SqliteNotifications`: the notifications port over SQLite — one preference row per user,
//! one row per moderator subscribed to escalations, and one ledger row per (upload, tag,
//! user) in the shared database; the tag is the status, or `ESCALATED_{level}`.
//!
//! A claim is one `INSERT … ON CONFLICT DO NOTHING` on the ledger's primary key, so of any
//! number of claims of a key exactly one inserts.

use async_trait::async_trait;
use rusqlite::types::Type;
use rusqlite::{OptionalExtension, params};
use vetted_core::ModeratorId;
use vetted_core::notify::{EmailAddress, EscalationSubscriber, Preference, SentKey};
use vetted_core::ports::{Notifications, NotificationsError};
use vetted_core::{OwnerId, Timestamp, UploadId};

use crate::db::{Db, DbError, Migration};

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
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
    },
    Migration {
        version: 2,
        sql: "
        CREATE TABLE escalation_subscribers (
            moderator TEXT PRIMARY KEY NOT NULL,
            address TEXT NOT NULL,
            since INTEGER NOT NULL
        ) STRICT;
    ",
    },
];

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

fn key_params(key: &SentKey) -> (String, String, String) {
    (
        key.upload.to_string(),
        key.tag(),
        key.user.as_str().to_owned(),
    )
}

/// A stored text column that must parse, as a conversion failure of column `index`.
fn parsed<T, E: std::error::Error + Send + Sync + 'static>(
    index: usize,
    raw: String,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> rusqlite::Result<T> {
    parse(&raw)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e)))
}

fn subscriber_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<EscalationSubscriber> {
    Ok(EscalationSubscriber {
        moderator: parsed(0, row.get(0)?, ModeratorId::parse)?,
        address: parsed(1, row.get(1)?, EmailAddress::parse)?,
        since: Timestamp::from_unix_millis(row.get(2)?),
    })
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
                        .map(|raw| parsed(1, raw, EmailAddress::parse))
                        .transpose()?;
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

    async fn subscribe_escalations(
        &self,
        subscriber: &EscalationSubscriber,
    ) -> Result<(), NotificationsError> {
        let s = subscriber.clone();
        self.db
            .call(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO escalation_subscribers (moderator, address, since)
                     VALUES (?1, ?2, ?3)
                     ON CONFLICT (moderator) DO UPDATE SET address = excluded.address,
                         since = excluded.since",
                )?
                .execute(params![
                    s.moderator.as_str(),
                    s.address.as_str(),
                    s.since.unix_millis()
                ])?;
                Ok(())
            })
            .await
            .map_err(backend("notifications.subscribe_escalations"))
    }

    async fn unsubscribe_escalations(
        &self,
        moderator: &ModeratorId,
    ) -> Result<(), NotificationsError> {
        let moderator = moderator.as_str().to_owned();
        self.db
            .call(move |conn| {
                conn.prepare_cached("DELETE FROM escalation_subscribers WHERE moderator = ?1")?
                    .execute([moderator])?;
                Ok(())
            })
            .await
            .map_err(backend("notifications.unsubscribe_escalations"))
    }

    async fn escalation_subscription(
        &self,
        moderator: &ModeratorId,
    ) -> Result<Option<EscalationSubscriber>, NotificationsError> {
        let moderator = moderator.as_str().to_owned();
        self.db
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT moderator, address, since FROM escalation_subscribers
                     WHERE moderator = ?1",
                )?
                .query_row([moderator], subscriber_from)
                .optional()
            })
            .await
            .map_err(backend("notifications.escalation_subscription"))
    }

    async fn escalation_subscribers(
        &self,
    ) -> Result<Vec<EscalationSubscriber>, NotificationsError> {
        self.db
            .read(|conn| {
                conn.prepare_cached("SELECT moderator, address, since FROM escalation_subscribers")?
                    .query_map([], subscriber_from)?
                    .collect()
            })
            .await
            .map_err(backend("notifications.escalation_subscribers"))
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
