//! `DynamoBanned`: the banned-content list in the restaurants table, one item per digest:
//! `pk` `BANNED`, `sk` the SHA-256 (base64), with `note`, `by` and `at`.
//!
//! One partition holds the whole list: it is a list admins add to one digest at a time, read
//! by a `GetItem` per upload (the check) and listed whole only on an admin's request, so it
//! needs no table, index or paging of its own. `ban` is a plain `PutItem` (a second ban of a
//! digest replaces its entry), `unban` a `DeleteItem` returning the old item. Reads are
//! strongly consistent.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use vetted_core::banned::BannedEntry;
use vetted_core::ports::{BackendError, BannedContent, BannedError};
use vetted_core::{ContentSha256, Timestamp};

use super::item::{BadItem, Item, Reader, millis, s};
use super::{get_consistent, query_all};
use crate::errors::backend_error;

const PK: &str = "pk";
const SK: &str = "sk";
const PARTITION: &str = "BANNED";

/// The banned-content list in the restaurants table.
#[derive(Debug, Clone)]
pub struct DynamoBanned {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoBanned {
    /// `table` is the restaurants table.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn key(sha256: &ContentSha256) -> Item {
    Item::from([
        (PK.to_owned(), s(PARTITION)),
        (SK.to_owned(), s(sha256.to_base64())),
    ])
}

fn entry_from(item: &Item) -> Result<BannedEntry, BadItem> {
    let r = Reader::new(item, "banned entry");
    Ok(BannedEntry {
        sha256: r.required("sk", r.parsed("sk", str::parse::<ContentSha256>)?)?,
        note: r.text("note")?.map(str::to_owned),
        by: r.required("by", r.text("by")?)?.to_owned(),
        at: r
            .instant("at")?
            .unwrap_or_else(|| Timestamp::from_unix_millis(0)),
    })
}

fn bad(operation: &'static str) -> impl Fn(BadItem) -> BannedError {
    move |e| BannedError::Backend(BackendError::permanent(operation, e))
}

#[async_trait]
impl BannedContent for DynamoBanned {
    async fn ban(&self, entry: &BannedEntry) -> Result<(), BannedError> {
        let mut item = key(&entry.sha256);
        item.insert("by".to_owned(), s(entry.by.clone()));
        item.insert("at".to_owned(), millis(entry.at));
        if let Some(note) = &entry.note {
            item.insert("note".to_owned(), s(note.clone()));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:PutItem", e))?;
        Ok(())
    }

    async fn get(&self, sha256: &ContentSha256) -> Result<Option<BannedEntry>, BannedError> {
        get_consistent(&self.client, &self.table, key(sha256))
            .await?
            .map(|item| entry_from(&item).map_err(bad("dynamodb:GetItem")))
            .transpose()
    }

    async fn unban(&self, sha256: &ContentSha256) -> Result<bool, BannedError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(sha256)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:DeleteItem", e))?;
        Ok(output.attributes.is_some_and(|old| !old.is_empty()))
    }

    async fn list(&self) -> Result<Vec<BannedEntry>, BannedError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(PARTITION));
        let mut entries = query_all(query)
            .await?
            .iter()
            .map(|item| entry_from(item).map_err(bad("dynamodb:Query")))
            .collect::<Result<Vec<_>, _>>()?;
        entries.sort_by(|a, b| {
            b.at.cmp(&a.at)
                .then_with(|| a.sha256.to_base64().cmp(&b.sha256.to_base64()))
        });
        Ok(entries)
    }
}
