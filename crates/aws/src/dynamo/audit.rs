//! `DynamoAudit`: the audit trail in the restaurants table, two items per entry:
//!
//! | `pk` | `sk` | read by |
//! |---|---|---|
//! | `AUDITDAY#{days since 1970}` | `{at ms, 13 digits}#{id}` | `since`: one query per day |
//! | `AUDIT#{upload}` | `{at ms, 13 digits}#{id}` | `for_upload` (entries naming an upload) |
//!
//! Each is a conditional `PutItem` (`attribute_not_exists`), so a retried write of the same
//! entry stores it once and never replaces one; the adapter has no update or delete. A day
//! partition keeps one day's entries, so no partition grows without bound, and `since` reads
//! the days from `since` to tomorrow in order. Reads are strongly consistent.
//!
//! On AWS the trail is append-only by this code, not by IAM: the functions that write it hold
//! `PutItem` on the restaurants table for its other items too (see docs/ARCHITECTURE.md).

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use vetted_core::audit::{AuditAction, AuditEntry};
use vetted_core::ports::{AuditError, AuditTrail, BackendError, Page, PageRequest, PageToken};
use vetted_core::restaurant::{RestaurantId, Slot};
use vetted_core::{Clock, SystemClock, Timestamp, UploadId};

use super::item::{BadItem, Item, Reader, millis, s};
use super::{put_if_absent, query_all};
use crate::errors::backend_error;

const PK: &str = "pk";
const SK: &str = "sk";
const DAY_MS: i64 = 86_400_000;

/// The audit trail in the restaurants table.
#[derive(Debug, Clone)]
pub struct DynamoAudit {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoAudit {
    /// `table` is the restaurants table.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn day_of(at: Timestamp) -> i64 {
    at.unix_millis().div_euclid(DAY_MS)
}

fn sort_key(entry: &AuditEntry) -> String {
    format!("{:013}#{}", entry.at.unix_millis().max(0), entry.id)
}

fn item(pk: String, entry: &AuditEntry) -> Item {
    let mut item = Item::from([
        (PK.to_owned(), s(pk)),
        (SK.to_owned(), s(sort_key(entry))),
        ("id".to_owned(), s(entry.id.clone())),
        ("at".to_owned(), millis(entry.at)),
        ("actor".to_owned(), s(entry.actor.clone())),
        ("action".to_owned(), s(entry.action.as_str())),
    ]);
    let mut optional = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            item.insert(name.to_owned(), s(value));
        }
    };
    optional("upload", entry.upload.map(|u| u.to_string()));
    optional(
        "restaurant",
        entry.restaurant.as_ref().map(|r| r.as_str().to_owned()),
    );
    optional("slot", entry.slot.map(|slot| slot.to_string()));
    optional("reason", entry.reason.clone());
    optional("note", entry.note.clone());
    item
}

fn entry_from(item: &Item) -> Result<AuditEntry, BadItem> {
    let r = Reader::new(item, "audit entry");
    Ok(AuditEntry {
        id: r.required("id", r.text("id")?)?.to_owned(),
        at: r.required("at", r.instant("at")?)?,
        actor: r.required("actor", r.text("actor")?)?.to_owned(),
        action: r.required(
            "action",
            r.parsed("action", |raw| {
                AuditAction::parse(raw).ok_or("not an audit action")
            })?,
        )?,
        upload: r.parsed("upload", UploadId::parse)?,
        restaurant: r.parsed("restaurant", RestaurantId::parse)?,
        slot: r.parsed("slot", Slot::parse)?,
        reason: r.text("reason")?.map(str::to_owned),
        note: r.text("note")?.map(str::to_owned),
    })
}

fn bad(operation: &'static str) -> impl Fn(BadItem) -> AuditError {
    move |e| AuditError::Backend(BackendError::permanent(operation, e))
}

/// A position: the day partition being read and the last sort key returned from it.
fn encode_token(day: i64, last_sk: &str) -> PageToken {
    PageToken(URL_SAFE_NO_PAD.encode(format!("d1:{day}:{last_sk}")))
}

fn decode_token(token: &PageToken) -> Result<(i64, String), AuditError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(&token.0)
        .map_err(|_| AuditError::BadPageToken)?;
    let plain = String::from_utf8(bytes).map_err(|_| AuditError::BadPageToken)?;
    let rest = plain.strip_prefix("d1:").ok_or(AuditError::BadPageToken)?;
    let (day, sk) = rest.split_once(':').ok_or(AuditError::BadPageToken)?;
    Ok((
        day.parse().map_err(|_| AuditError::BadPageToken)?,
        sk.to_owned(),
    ))
}

impl DynamoAudit {
    /// Up to `limit` items of day `day` whose sort key is above `after` (all, without it), in
    /// order.
    async fn read_day(
        &self,
        day: i64,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Item>, AuditError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(format!("AUDITDAY#{day}")))
            .limit(i32::try_from(limit).unwrap_or(100));
        query = match after {
            Some(after) => query
                .key_condition_expression("#pk = :pk AND #sk > :after")
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":after", s(after.to_owned())),
            None => query.key_condition_expression("#pk = :pk"),
        };
        let output = query
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:Query", e))?;
        Ok(output.items.unwrap_or_default())
    }
}

#[async_trait]
impl AuditTrail for DynamoAudit {
    async fn append(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        let day = item(format!("AUDITDAY#{}", day_of(entry.at)), entry);
        put_if_absent(&self.client, &self.table, day, PK).await?;
        if let Some(upload) = entry.upload {
            let by_upload = item(format!("AUDIT#{upload}"), entry);
            put_if_absent(&self.client, &self.table, by_upload, PK).await?;
        }
        Ok(())
    }

    async fn for_upload(&self, upload: &UploadId) -> Result<Vec<AuditEntry>, AuditError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(format!("AUDIT#{upload}")));
        query_all(query)
            .await?
            .iter()
            .map(|item| entry_from(item).map_err(bad("dynamodb:Query")))
            .collect()
    }

    async fn since(
        &self,
        since: Timestamp,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, AuditError> {
        let limit = page.limit.clamp(1, 100);
        // Before the first entry of `since`'s millisecond: "{ms}#" sorts after every key of an
        // earlier millisecond and before every id of this one.
        let floor = format!("{:013}#", since.unix_millis().max(0));
        let (mut day, mut after) = match &page.after {
            Some(token) => decode_token(token)?,
            None => (day_of(since), floor.clone()),
        };
        if after < floor {
            after = floor;
        }
        let last_day = day_of(SystemClock.now()) + 1;
        let mut items = Vec::new();
        while day <= last_day {
            let want = limit - u32::try_from(items.len()).unwrap_or(limit);
            let bound = (!after.is_empty()).then_some(after.as_str());
            let read = self.read_day(day, bound, want).await?;
            for raw in &read {
                items.push(entry_from(raw).map_err(bad("dynamodb:Query"))?);
            }
            if items.len() >= limit as usize {
                let last = items.last().map(sort_key).unwrap_or_default();
                return Ok(Page {
                    items,
                    next: Some(encode_token(day, &last)),
                });
            }
            day += 1;
            after = String::new();
        }
        Ok(Page { items, next: None })
    }
}
