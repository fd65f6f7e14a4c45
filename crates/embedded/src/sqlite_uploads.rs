//! `SqliteUploads`: the record store port over SQLite, transitions in transactions.
//!
//! One row per upload with a typed column per field; the task token has a column of its own and
//! is never part of any JSON. A transition is one `IMMEDIATE` transaction on the writer: read
//! the row, let [`UploadRecord::apply`] decide, write with `WHERE id = ? AND status = ?`. The
//! write lock is held from the read to the write, so concurrent transitions queue up and the
//! second one finds the first one's status: exactly one wins. Listings are keyset-paged on
//! `(created_at, id)` and `(status_since, id)`, both indexed, so ties page correctly and a
//! deep page costs what the first one does.

mod rows;

use async_trait::async_trait;
use rusqlite::params;
use vetted_core::ports::{Page, PageRequest, PageToken, Uploads, UploadsError};
use vetted_core::restaurant::RestaurantId;
use vetted_core::{ContentSha256, OwnerId, Status, TaskToken, Transition, UploadId, UploadRecord};

use crate::db::{Db, DbError, Migration, immediate};
use crate::keyset;
use rows::{COLUMNS, Row};

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: "
        CREATE TABLE uploads (
            id TEXT PRIMARY KEY NOT NULL,
            owner TEXT NOT NULL,
            filename TEXT NOT NULL,
            declared_type TEXT NOT NULL,
            declared_size INTEGER NOT NULL,
            method TEXT NOT NULL,
            object_key TEXT NOT NULL,
            status TEXT NOT NULL,
            status_since INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            reason TEXT,
            detected_type TEXT,
            width INTEGER,
            height INTEGER,
            bytes INTEGER,
            object_version TEXT,
            execution_name TEXT,
            task_token TEXT,
            moderator TEXT,
            decision TEXT,
            decline_reason TEXT,
            failure TEXT
        ) STRICT;
        CREATE INDEX uploads_by_owner ON uploads (owner, created_at, id);
        CREATE INDEX uploads_by_status ON uploads (status, status_since, id);
    ",
    },
    Migration {
        // Uploads target a slot, and a decision records when it was made. Rows written by
        // version 1 predate restaurants: they get restaurant 'legacy' and slot 'gallery-1',
        // which parse, so those rows stay readable (`RestaurantId::LEGACY`, which the API refuses
        // to create a restaurant as, so that none seems to be their target). Their `object_key`
        // keeps the old `incoming/{owner}/{id}` shape and reads back as a stray key; nothing
        // is rewritten. Their `decided_at` is NULL: version 1 kept no decision time.
        version: 2,
        sql: "
        ALTER TABLE uploads ADD COLUMN restaurant TEXT NOT NULL DEFAULT 'legacy';
        ALTER TABLE uploads ADD COLUMN slot TEXT NOT NULL DEFAULT 'gallery-1';
        ALTER TABLE uploads ADD COLUMN decided_at INTEGER;
    ",
    },
    Migration {
        // The change requests a restaurant's slots show as pending: a partial index holds only
        // the rows in progress, so it stays as small as the work in flight. Its WHERE must
        // stay the one `list_in_progress` uses, or SQLite will not use it.
        version: 3,
        sql: "
        CREATE INDEX uploads_in_progress ON uploads (restaurant, created_at, id)
            WHERE status IN ('RECEIVED', 'IN_REVIEW', 'DECIDED', 'APPROVED');
    ",
    },
    Migration {
        // The client's correlation id, fixed at the intent. Rows of earlier versions have
        // none, and their events carry the upload id instead (`UploadRecord::correlation_id`).
        version: 4,
        sql: "ALTER TABLE uploads ADD COLUMN correlation_id TEXT;",
    },
    Migration {
        // Four-eyes review: the first of two approvals, and the status it leaves the upload
        // in, which is in progress and so joins the partial index (rebuilt with the new WHERE).
        version: 5,
        sql: "
        ALTER TABLE uploads ADD COLUMN first_approver TEXT;
        DROP INDEX uploads_in_progress;
        CREATE INDEX uploads_in_progress ON uploads (restaurant, created_at, id)
            WHERE status IN ('RECEIVED', 'IN_REVIEW', 'AWAITING_SECOND', 'DECIDED', 'APPROVED');
    ",
    },
    Migration {
        // Review escalation: the level reached (also the await stage whose token is stored)
        // and how many the review's workflow has. Rows of earlier versions have neither: a
        // review without escalation.
        version: 6,
        sql: "
        ALTER TABLE uploads ADD COLUMN escalation_level INTEGER;
        ALTER TABLE uploads ADD COLUMN escalation_levels INTEGER;
    ",
    },
    Migration {
        // Every upload of a restaurant, whatever its status: what a purge deletes.
        version: 7,
        sql: "CREATE INDEX uploads_by_restaurant ON uploads (restaurant, created_at, id);",
    },
    Migration {
        // The content's SHA-256 (base64): pinned by the client, or reported by the store at
        // intake. Rows of earlier versions have none.
        version: 8,
        sql: "ALTER TABLE uploads ADD COLUMN sha256 TEXT;",
    },
    Migration {
        // Earlier uploads of the same bytes, for content-hash dedup; partial, since most rows
        // of earlier versions have no digest.
        version: 9,
        sql: "CREATE INDEX uploads_by_sha256 ON uploads (sha256, created_at, id)
              WHERE sha256 IS NOT NULL;",
    },
    Migration {
        // The store's multipart upload of a `multipart` intent; rows of earlier versions are
        // not multipart.
        version: 10,
        sql: "ALTER TABLE uploads ADD COLUMN multipart_upload_id TEXT;",
    },
];

/// The statuses [`Status::is_in_progress`] names, as SQL; the partial index repeats it.
const IN_PROGRESS: &str =
    "status IN ('RECEIVED', 'IN_REVIEW', 'AWAITING_SECOND', 'DECIDED', 'APPROVED')";

/// Upload records in the shared database.
#[derive(Debug, Clone)]
pub struct SqliteUploads {
    db: Db,
}

impl SqliteUploads {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn backend(operation: &'static str) -> impl FnOnce(DbError) -> UploadsError {
    move |e| UploadsError::Backend(e.into_backend(operation))
}

/// Which listing a page token belongs to; a token of one is refused by the other.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listing {
    ByOwner,
    ByStatus,
    InProgress,
    ByRestaurant,
    BySha256,
}

impl Listing {
    fn tag(self) -> &'static str {
        match self {
            Listing::ByOwner => "o1",
            Listing::ByStatus => "s1",
            Listing::InProgress => "p1",
            Listing::ByRestaurant => "r1",
            Listing::BySha256 => "h1",
        }
    }
}

/// The position after the last item of a page: its sort key and id.
fn encode_token(listing: Listing, last: &UploadRecord) -> PageToken {
    let at = match listing {
        Listing::ByOwner | Listing::InProgress | Listing::ByRestaurant | Listing::BySha256 => {
            last.created_at
        }
        Listing::ByStatus => last.status_since,
    };
    keyset::encode(listing.tag(), at.unix_millis(), &last.id.to_string())
}

fn decode_token(listing: Listing, token: &PageToken) -> Result<(i64, String), UploadsError> {
    let (at, id) = keyset::decode(listing.tag(), token).ok_or(UploadsError::BadPageToken)?;
    let id = UploadId::parse(&id).map_err(|_| UploadsError::BadPageToken)?;
    Ok((at, id.to_string()))
}

impl SqliteUploads {
    /// Runs one page of a listing. `filter` is the owner, the status or the restaurant; the
    /// SQL orders by the listing's index and fetches one row more than asked, to know whether
    /// a next page exists.
    async fn page(
        &self,
        listing: Listing,
        filter: String,
        request: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        let limit = request.limit.clamp(1, 100);
        let after = request
            .after
            .as_ref()
            .map(|t| decode_token(listing, t))
            .transpose()?;
        let sql = match (listing, after.is_some()) {
            (Listing::ByOwner, false) => format!(
                "SELECT {COLUMNS} FROM uploads WHERE owner = ?1
                 ORDER BY created_at DESC, id DESC LIMIT ?4"
            ),
            (Listing::ByOwner, true) => format!(
                "SELECT {COLUMNS} FROM uploads WHERE owner = ?1 AND (created_at, id) < (?2, ?3)
                 ORDER BY created_at DESC, id DESC LIMIT ?4"
            ),
            (Listing::ByStatus, false) => format!(
                "SELECT {COLUMNS} FROM uploads WHERE status = ?1
                 ORDER BY status_since, id LIMIT ?4"
            ),
            (Listing::ByStatus, true) => format!(
                "SELECT {COLUMNS} FROM uploads WHERE status = ?1 AND (status_since, id) > (?2, ?3)
                 ORDER BY status_since, id LIMIT ?4"
            ),
            (Listing::InProgress, false) => format!(
                "SELECT {COLUMNS} FROM uploads WHERE restaurant = ?1 AND {IN_PROGRESS}
                 ORDER BY created_at DESC, id DESC LIMIT ?4"
            ),
            (Listing::InProgress, true) => format!(
                "SELECT {COLUMNS} FROM uploads WHERE restaurant = ?1 AND {IN_PROGRESS}
                 AND (created_at, id) < (?2, ?3)
                 ORDER BY created_at DESC, id DESC LIMIT ?4"
            ),
            (Listing::ByRestaurant, false) => format!(
                "SELECT {COLUMNS} FROM uploads WHERE restaurant = ?1
                 ORDER BY created_at DESC, id DESC LIMIT ?4"
            ),
            (Listing::ByRestaurant, true) => format!(
                "SELECT {COLUMNS} FROM uploads WHERE restaurant = ?1
                 AND (created_at, id) < (?2, ?3)
                 ORDER BY created_at DESC, id DESC LIMIT ?4"
            ),
            (Listing::BySha256, false) => format!(
                "SELECT {COLUMNS} FROM uploads WHERE sha256 = ?1
                 ORDER BY created_at DESC, id DESC LIMIT ?4"
            ),
            (Listing::BySha256, true) => format!(
                "SELECT {COLUMNS} FROM uploads WHERE sha256 = ?1
                 AND (created_at, id) < (?2, ?3)
                 ORDER BY created_at DESC, id DESC LIMIT ?4"
            ),
        };
        let (at, id) = after.unwrap_or((0, String::new()));
        let mut items = self
            .db
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&sql)?;
                let rows = stmt.query_map(params![filter, at, id, limit + 1], Row::record)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await
            .map_err(backend("uploads.list"))?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|last| encode_token(listing, last))
        } else {
            None
        };
        Ok(Page { items, next })
    }
}

#[async_trait]
impl Uploads for SqliteUploads {
    #[tracing::instrument(skip(self, record), fields(upload_id = %record.id))]
    async fn create(&self, record: &UploadRecord) -> Result<(), UploadsError> {
        let (id, record) = (record.id, record.clone());
        let inserted = self
            .db
            .call(move |conn| {
                let values = Row::values(&record)?;
                let mut stmt = conn.prepare_cached(&format!(
                    "INSERT INTO uploads ({COLUMNS}) VALUES ({}) ON CONFLICT (id) DO NOTHING",
                    rows::PLACEHOLDERS
                ))?;
                stmt.execute(rusqlite::params_from_iter(values.iter()))
            })
            .await
            .map_err(backend("uploads.create"))?;
        if inserted == 0 {
            return Err(UploadsError::AlreadyExists(id));
        }
        Ok(())
    }

    async fn get(&self, id: &UploadId) -> Result<UploadRecord, UploadsError> {
        let id = *id;
        self.db
            .read(move |conn| rows::select(conn, &id))
            .await
            .map_err(backend("uploads.get"))?
            .ok_or(UploadsError::NotFound(id))
    }

    #[tracing::instrument(skip(self, transition), fields(upload_id = %id, to = %transition.to))]
    async fn transition(
        &self,
        id: &UploadId,
        transition: &Transition,
    ) -> Result<UploadRecord, UploadsError> {
        let (id, transition) = (*id, transition.clone());
        self.db
            .call(move |conn| {
                let tx = immediate(conn)?;
                let current = rows::select(&tx, &id)?;
                let Some(current) = current else {
                    return Ok(Err(UploadsError::NotFound(id)));
                };
                let conflict = |current: UploadRecord| UploadsError::Conflict {
                    expected: transition.from,
                    current: Box::new(current),
                };
                let Ok(next) = current.apply(&transition) else {
                    return Ok(Err(conflict(current)));
                };
                let written = rows::update(&tx, &next, transition.from)?;
                if written != 1 {
                    // Unreachable while the transaction holds the write lock; kept so that the
                    // condition, not the locking, is what guarantees one effect.
                    return Ok(Err(conflict(current)));
                }
                tx.commit()?;
                Ok(Ok(next))
            })
            .await
            .map_err(backend("uploads.transition"))?
    }

    #[tracing::instrument(skip(self, task_token), fields(upload_id = %id))]
    async fn set_review_stage(
        &self,
        id: &UploadId,
        level: u8,
        task_token: Option<&TaskToken>,
    ) -> Result<UploadRecord, UploadsError> {
        let (id, task_token) = (*id, task_token.cloned());
        self.db
            .call(move |conn| {
                let tx = immediate(conn)?;
                let current = rows::select(&tx, &id)?;
                let Some(current) = current else {
                    return Ok(Err(UploadsError::NotFound(id)));
                };
                let Some(next) = current.with_review_stage(level, task_token.as_ref()) else {
                    return Ok(Err(UploadsError::Conflict {
                        expected: Status::InReview,
                        current: Box::new(current),
                    }));
                };
                rows::update_review_stage(&tx, &next)?;
                tx.commit()?;
                Ok(Ok(next))
            })
            .await
            .map_err(backend("uploads.set_review_stage"))?
    }

    async fn list_by_owner(
        &self,
        owner: &OwnerId,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        self.page(Listing::ByOwner, owner.as_str().to_owned(), page)
            .await
    }

    async fn list_by_status(
        &self,
        status: Status,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        self.page(Listing::ByStatus, status.as_str().to_owned(), page)
            .await
    }

    async fn list_in_progress(
        &self,
        restaurant: &RestaurantId,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        self.page(Listing::InProgress, restaurant.as_str().to_owned(), page)
            .await
    }

    async fn list_by_restaurant(
        &self,
        restaurant: &RestaurantId,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        self.page(Listing::ByRestaurant, restaurant.as_str().to_owned(), page)
            .await
    }

    #[tracing::instrument(skip(self, sha256), fields(upload_id = %id))]
    async fn record_sha256(
        &self,
        id: &UploadId,
        sha256: &ContentSha256,
    ) -> Result<UploadRecord, UploadsError> {
        let (id, digest) = (*id, sha256.to_base64());
        self.db
            .call(move |conn| {
                let tx = immediate(conn)?;
                tx.prepare_cached(
                    "UPDATE uploads SET sha256 = ?2 WHERE id = ?1 AND sha256 IS NULL",
                )?
                .execute(params![id.to_string(), digest])?;
                let current = rows::select(&tx, &id)?;
                tx.commit()?;
                Ok(current.ok_or(UploadsError::NotFound(id)))
            })
            .await
            .map_err(backend("uploads.record_sha256"))?
    }

    async fn list_by_sha256(
        &self,
        sha256: &ContentSha256,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        self.page(Listing::BySha256, sha256.to_base64(), page).await
    }

    #[tracing::instrument(skip(self), fields(upload_id = %id))]
    async fn delete(&self, id: &UploadId) -> Result<bool, UploadsError> {
        let id = id.to_string();
        let deleted = self
            .db
            .call(move |conn| {
                conn.prepare_cached("DELETE FROM uploads WHERE id = ?1")?
                    .execute([id])
            })
            .await
            .map_err(backend("uploads.delete"))?;
        Ok(deleted > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_in_progress_sql_names_exactly_the_in_progress_statuses() {
        let named: Vec<Status> = Status::ALL
            .into_iter()
            .filter(|s| IN_PROGRESS.contains(&format!("'{}'", s.as_str())))
            .collect();
        let expected: Vec<Status> = Status::ALL
            .into_iter()
            .filter(|s| s.is_in_progress())
            .collect();
        assert_eq!(named, expected);
        // The latest migration that (re)builds the partial index.
        let migration = MIGRATIONS
            .iter()
            .rev()
            .find(|m| m.sql.contains("CREATE INDEX uploads_in_progress"))
            .unwrap();
        assert_eq!(migration.version, 5);
        let one_line = migration
            .sql
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            one_line.contains(&format!("WHERE {IN_PROGRESS}")),
            "the partial index and the query disagree"
        );
    }
}
