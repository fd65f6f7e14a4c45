//! `SqliteAudit`: the audit trail over SQLite, one row per entry, append-only by trigger.
//!
//! Triggers abort any `UPDATE` or `DELETE` of the table, so that not even a later bug in this
//! program, nor an operator at the `sqlite3` prompt who forgets, rewrites the trail. Listings
//! are keyset-paged on `(at, id)`, which is indexed.

use async_trait::async_trait;
use rusqlite::types::Type;
use rusqlite::{Row, params};
use vetted_core::Timestamp;
use vetted_core::UploadId;
use vetted_core::audit::{AuditAction, AuditEntry};
use vetted_core::ports::{AuditError, AuditTrail, Page, PageRequest, PageToken};
use vetted_core::restaurant::{RestaurantId, Slot};

use crate::db::{Db, DbError, Migration};
use crate::keyset;

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    sql: "
        CREATE TABLE audit (
            id TEXT PRIMARY KEY NOT NULL,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            upload TEXT,
            restaurant TEXT,
            slot TEXT,
            reason TEXT,
            note TEXT
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX audit_by_time ON audit (at, id);
        CREATE INDEX audit_by_upload ON audit (upload, at, id) WHERE upload IS NOT NULL;
        CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    ",
}];

/// The audit trail in the shared database.
#[derive(Debug, Clone)]
pub struct SqliteAudit {
    db: Db,
}

impl SqliteAudit {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn backend(operation: &'static str) -> impl FnOnce(DbError) -> AuditError {
    move |e| AuditError::Backend(e.into_backend(operation))
}

const COLUMNS: &str = "id, at, actor, action, upload, restaurant, slot, reason, note";

fn entry(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    let bad = |index: usize, what: String| {
        rusqlite::Error::FromSqlConversionFailure(index, Type::Text, what.into())
    };
    let action: String = row.get(3)?;
    let upload: Option<String> = row.get(4)?;
    let restaurant: Option<String> = row.get(5)?;
    let slot: Option<String> = row.get(6)?;
    Ok(AuditEntry {
        id: row.get(0)?,
        at: Timestamp::from_unix_millis(row.get(1)?),
        actor: row.get(2)?,
        action: AuditAction::parse(&action).ok_or_else(|| bad(3, format!("action {action:?}")))?,
        upload: upload
            .map(|u| UploadId::parse(&u).map_err(|e| bad(4, e.to_string())))
            .transpose()?,
        restaurant: restaurant
            .map(|r| RestaurantId::parse(&r).map_err(|e| bad(5, e.to_string())))
            .transpose()?,
        slot: slot
            .map(|s| Slot::parse(&s).map_err(|e| bad(6, e.to_string())))
            .transpose()?,
        reason: row.get(7)?,
        note: row.get(8)?,
    })
}

/// The tag of the audit listing's page tokens.
const LISTING: &str = "a1";

fn encode_token(last: &AuditEntry) -> PageToken {
    keyset::encode(LISTING, last.at.unix_millis(), &last.id)
}

#[async_trait]
impl AuditTrail for SqliteAudit {
    async fn append(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        let e = entry.clone();
        self.db
            .call(move |conn| {
                // A retried write of the same id keeps the first (the trigger forbids replacing).
                conn.prepare_cached(&format!(
                    "INSERT INTO audit ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (id) DO NOTHING"
                ))?
                .execute(params![
                    e.id,
                    e.at.unix_millis(),
                    e.actor,
                    e.action.as_str(),
                    e.upload.map(|u| u.to_string()),
                    e.restaurant.as_ref().map(|r| r.as_str().to_owned()),
                    e.slot.map(|s| s.to_string()),
                    e.reason,
                    e.note,
                ])?;
                Ok(())
            })
            .await
            .map_err(backend("audit.append"))
    }

    async fn for_upload(&self, upload: &UploadId) -> Result<Vec<AuditEntry>, AuditError> {
        let upload = upload.to_string();
        self.db
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM audit WHERE upload = ?1 ORDER BY at, id"
                ))?
                .query_map([upload], entry)?
                .collect()
            })
            .await
            .map_err(backend("audit.for_upload"))
    }

    async fn since(
        &self,
        since: Timestamp,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, AuditError> {
        let limit = page.limit.clamp(1, 100);
        let (after_at, after_id) = match &page.after {
            Some(token) => keyset::decode(LISTING, token).ok_or(AuditError::BadPageToken)?,
            None => (i64::MIN, String::new()),
        };
        let since = since.unix_millis();
        let items: Vec<AuditEntry> = self
            .db
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM audit
                     WHERE at >= ?1 AND (at, id) > (?2, ?3)
                     ORDER BY at, id LIMIT ?4"
                ))?
                .query_map(params![since, after_at, after_id, limit + 1], entry)?
                .collect()
            })
            .await
            .map_err(backend("audit.since"))?;
        let mut items = items;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(encode_token)
        } else {
            None
        };
        Ok(Page { items, next })
    }
}

#[cfg(test)]
mod tests {
    use vetted_core::audit::AuditAction;

    use super::*;

    #[tokio::test]
    async fn nothing_rewrites_or_deletes_an_entry() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path().join("audit.db")).await.unwrap();
        let trail = SqliteAudit::new(db.clone());
        let entry = AuditEntry::operation(
            "admin-1",
            AuditAction::Purge,
            Timestamp::from_unix_millis(1),
        );
        trail.append(&entry).await.unwrap();
        for sql in [
            "UPDATE audit SET actor = 'someone-else'",
            "DELETE FROM audit",
        ] {
            let refused = db
                .call(move |conn| conn.execute(sql, []))
                .await
                .unwrap_err();
            assert!(
                refused.to_string().contains("append-only"),
                "{sql}: {refused}"
            );
        }
        let page = trail
            .since(Timestamp::from_unix_millis(0), &PageRequest::first(10))
            .await
            .unwrap();
        assert_eq!(page.items, vec![entry]);
    }
}
