//! `SqliteBanned`: the banned-content list over SQLite, one row per SHA-256 digest.

use async_trait::async_trait;
use rusqlite::types::Type;
use rusqlite::{OptionalExtension, Row, params};
use vetted_core::banned::BannedEntry;
use vetted_core::ports::{BannedContent, BannedError};
use vetted_core::{ContentSha256, Timestamp};

use crate::db::{Db, DbError, Migration};

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    sql: "
        CREATE TABLE banned_content (
            sha256 TEXT PRIMARY KEY NOT NULL,
            note TEXT,
            by TEXT NOT NULL,
            at INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
    ",
}];

/// The banned-content list in the shared database.
#[derive(Debug, Clone)]
pub struct SqliteBanned {
    db: Db,
}

impl SqliteBanned {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn backend(operation: &'static str) -> impl FnOnce(DbError) -> BannedError {
    move |e| BannedError::Backend(e.into_backend(operation))
}

fn entry(row: &Row<'_>) -> rusqlite::Result<BannedEntry> {
    let digest: String = row.get(0)?;
    let sha256 = digest.parse::<ContentSha256>().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, Type::Text, e.to_string().into())
    })?;
    Ok(BannedEntry {
        sha256,
        note: row.get(1)?,
        by: row.get(2)?,
        at: Timestamp::from_unix_millis(row.get(3)?),
    })
}

#[async_trait]
impl BannedContent for SqliteBanned {
    async fn ban(&self, entry: &BannedEntry) -> Result<(), BannedError> {
        let e = entry.clone();
        self.db
            .call(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO banned_content (sha256, note, by, at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (sha256) DO UPDATE
                     SET note = excluded.note, by = excluded.by, at = excluded.at",
                )?
                .execute(params![
                    e.sha256.to_base64(),
                    e.note,
                    e.by,
                    e.at.unix_millis()
                ])?;
                Ok(())
            })
            .await
            .map_err(backend("banned.ban"))
    }

    async fn get(&self, sha256: &ContentSha256) -> Result<Option<BannedEntry>, BannedError> {
        let digest = sha256.to_base64();
        self.db
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT sha256, note, by, at FROM banned_content WHERE sha256 = ?1",
                )?
                .query_row([digest], entry)
                .optional()
            })
            .await
            .map_err(backend("banned.get"))
    }

    async fn unban(&self, sha256: &ContentSha256) -> Result<bool, BannedError> {
        let digest = sha256.to_base64();
        self.db
            .call(move |conn| {
                let removed = conn
                    .prepare_cached("DELETE FROM banned_content WHERE sha256 = ?1")?
                    .execute([digest])?;
                Ok(removed > 0)
            })
            .await
            .map_err(backend("banned.unban"))
    }

    async fn list(&self) -> Result<Vec<BannedEntry>, BannedError> {
        self.db
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT sha256, note, by, at FROM banned_content ORDER BY at DESC, sha256",
                )?
                .query_map([], entry)?
                .collect()
            })
            .await
            .map_err(backend("banned.list"))
    }
}
