//! `SqliteInvitations`: the invitations port over SQLite, one row per (restaurant, address).

use async_trait::async_trait;
use rusqlite::types::Type;
use rusqlite::{Row, params};
use vetted_core::Timestamp;
use vetted_core::notify::EmailAddress;
use vetted_core::ports::{Invitation, Invitations, InvitationsError};
use vetted_core::restaurant::{MemberRole, RestaurantId};

use crate::db::{Db, DbError, Migration};

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    sql: "
        CREATE TABLE invitations (
            restaurant TEXT NOT NULL,
            email TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('owner', 'staff')),
            invited_by TEXT NOT NULL,
            invited_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            PRIMARY KEY (restaurant, email)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX invitations_by_email ON invitations (email);
    ",
}];

/// Invitations in the shared database.
#[derive(Debug, Clone)]
pub struct SqliteInvitations {
    db: Db,
}

impl SqliteInvitations {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn backend(operation: &'static str) -> impl FnOnce(DbError) -> InvitationsError {
    move |e| InvitationsError::Backend(e.into_backend(operation))
}

const COLUMNS: &str = "restaurant, email, role, invited_by, invited_at, expires_at";

fn invitation(row: &Row<'_>) -> rusqlite::Result<Invitation> {
    let bad = |index: usize, what: String| {
        rusqlite::Error::FromSqlConversionFailure(index, Type::Text, what.into())
    };
    let restaurant: String = row.get(0)?;
    let email: String = row.get(1)?;
    let role: String = row.get(2)?;
    Ok(Invitation {
        restaurant: RestaurantId::parse(&restaurant).map_err(|e| bad(0, e.to_string()))?,
        email: EmailAddress::parse(&email).map_err(|e| bad(1, e.to_string()))?,
        role: MemberRole::parse(&role).ok_or_else(|| bad(2, format!("role {role:?}")))?,
        invited_by: row.get(3)?,
        invited_at: Timestamp::from_unix_millis(row.get(4)?),
        expires_at: Timestamp::from_unix_millis(row.get(5)?),
    })
}

#[async_trait]
impl Invitations for SqliteInvitations {
    async fn put(&self, invitation: &Invitation) -> Result<(), InvitationsError> {
        let i = invitation.clone();
        self.db
            .call(move |conn| {
                conn.prepare_cached(&format!(
                    "INSERT OR REPLACE INTO invitations ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ))?
                .execute(params![
                    i.restaurant.as_str(),
                    i.email.as_str(),
                    i.role.as_str(),
                    i.invited_by,
                    i.invited_at.unix_millis(),
                    i.expires_at.unix_millis()
                ])?;
                Ok(())
            })
            .await
            .map_err(backend("invitations.put"))
    }

    async fn list(&self, restaurant: &RestaurantId) -> Result<Vec<Invitation>, InvitationsError> {
        let restaurant = restaurant.as_str().to_owned();
        self.db
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM invitations WHERE restaurant = ?1 ORDER BY email"
                ))?
                .query_map([restaurant], invitation)?
                .collect()
            })
            .await
            .map_err(backend("invitations.list"))
    }

    async fn for_address(&self, email: &EmailAddress) -> Result<Vec<Invitation>, InvitationsError> {
        let email = email.as_str().to_owned();
        self.db
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM invitations WHERE email = ?1 ORDER BY restaurant"
                ))?
                .query_map([email], invitation)?
                .collect()
            })
            .await
            .map_err(backend("invitations.for_address"))
    }

    async fn remove(
        &self,
        restaurant: &RestaurantId,
        email: &EmailAddress,
    ) -> Result<bool, InvitationsError> {
        let (restaurant, email) = (restaurant.as_str().to_owned(), email.as_str().to_owned());
        self.db
            .call(move |conn| {
                let removed = conn
                    .prepare_cached("DELETE FROM invitations WHERE restaurant = ?1 AND email = ?2")?
                    .execute(params![restaurant, email])?;
                Ok(removed > 0)
            })
            .await
            .map_err(backend("invitations.remove"))
    }
}
