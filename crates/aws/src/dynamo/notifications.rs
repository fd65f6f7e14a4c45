//! `DynamoNotifications`: the notifications port over a DynamoDB table of its own,
//! `{prefix}-notifications`.
//!
//! | `pk` | `sk` | holds |
//! |---|---|---|
//! | `U#{user}` | `PREFERENCE` | `enabled`, `address` (when opted in), `updated_at` |
//! | `ESCALATIONS` | `M#{moderator}` | a moderator subscribed to escalations: `address`, `since` |
//! | `S#{upload}` | `{TAG}#{user}` | a ledger entry: `claimed_at`; the tag is the status, or `ESCALATED_{level}` |
//!
//! The subscribers share one partition: they are read together on every escalation, and a
//! team of moderators is small (a partition holds thousands of them before it needs paging,
//! which `query_all` does anyway).
//!
//! A claim is one `PutItem` conditioned on `attribute_not_exists(pk)`: DynamoDB applies
//! conditional writes to one item one at a time, so of racing claims exactly one writes.
//! Every read is a strongly consistent `GetItem`. A table of its own, because it holds email
//! addresses: IAM grants it to what sends owner emails and serves the preference API only.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use vetted_core::notify::{EmailAddress, EscalationSubscriber, Preference, SentKey};
use vetted_core::ports::{BackendError, Notifications, NotificationsError};
use vetted_core::{ModeratorId, OwnerId, Timestamp, UploadId};

use super::item::{BadItem, Item, Reader, millis, s};
use super::{get_consistent, put_if_absent, query_all};
use crate::errors::backend_error;

const PK: &str = "pk";
const SK: &str = "sk";
const PREFERENCE_SK: &str = "PREFERENCE";
const ENABLED: &str = "enabled";
const ADDRESS: &str = "address";
const UPDATED_AT: &str = "updated_at";
const CLAIMED_AT: &str = "claimed_at";
const SUBSCRIBERS_PK: &str = "ESCALATIONS";
const MODERATOR: &str = "moderator";
const SINCE: &str = "since";

/// The key attributes of the table, with their types, for creating it.
pub const KEY_ATTRIBUTES: [(&str, &str); 2] = [(PK, "S"), (SK, "S")];
/// The table's partition and sort keys.
pub const TABLE_KEY: (&str, &str) = (PK, SK);

/// Preferences and the sent ledger in one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoNotifications {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoNotifications {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn key(pk: String, sk: String) -> Item {
    Item::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

fn preference_key(user: &OwnerId) -> Item {
    key(format!("U#{user}"), PREFERENCE_SK.to_owned())
}

fn sent_key(k: &SentKey) -> Item {
    key(format!("S#{}", k.upload), format!("{}#{}", k.tag(), k.user))
}

fn subscriber_key(moderator: &ModeratorId) -> Item {
    key(SUBSCRIBERS_PK.to_owned(), format!("M#{moderator}"))
}

fn subscriber_from(item: &Item) -> Result<EscalationSubscriber, BadItem> {
    let r = Reader::new(item, SUBSCRIBERS_PK);
    Ok(EscalationSubscriber {
        moderator: r.required(MODERATOR, r.parsed(MODERATOR, ModeratorId::parse)?)?,
        address: r.required(ADDRESS, r.parsed(ADDRESS, EmailAddress::parse)?)?,
        since: r.required(SINCE, r.instant(SINCE)?)?,
    })
}

impl DynamoNotifications {
    /// `PutItem` of `item`, replacing any item with its key.
    async fn put(&self, item: Item) -> Result<(), BackendError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:PutItem", e))?;
        Ok(())
    }
}

fn bad(operation: &'static str) -> impl Fn(BadItem) -> NotificationsError {
    move |e| NotificationsError::Backend(BackendError::permanent(operation, e))
}

fn preference_from(item: &Item, user: &OwnerId) -> Result<Preference, BadItem> {
    let r = Reader::new(item, format!("U#{user}"));
    let enabled = match item.get(ENABLED) {
        Some(AttributeValue::Bool(enabled)) => *enabled,
        _ => return Err(r.bad(ENABLED, "not a boolean")),
    };
    Ok(Preference {
        enabled,
        address: r.parsed(ADDRESS, EmailAddress::parse)?,
        updated_at: r.required(UPDATED_AT, r.instant(UPDATED_AT)?)?,
    })
}

#[async_trait]
impl Notifications for DynamoNotifications {
    async fn preference(&self, user: &OwnerId) -> Result<Option<Preference>, NotificationsError> {
        let item = get_consistent(&self.client, &self.table, preference_key(user)).await?;
        item.map(|item| preference_from(&item, user))
            .transpose()
            .map_err(bad("notifications.preference"))
    }

    async fn set_preference(
        &self,
        user: &OwnerId,
        preference: &Preference,
    ) -> Result<(), NotificationsError> {
        let mut item = preference_key(user);
        item.insert(ENABLED.to_owned(), AttributeValue::Bool(preference.enabled));
        item.insert(UPDATED_AT.to_owned(), millis(preference.updated_at));
        if let Some(address) = &preference.address {
            item.insert(ADDRESS.to_owned(), s(address.as_str()));
        }
        Ok(self.put(item).await?)
    }

    async fn subscribe_escalations(
        &self,
        subscriber: &EscalationSubscriber,
    ) -> Result<(), NotificationsError> {
        let mut item = subscriber_key(&subscriber.moderator);
        item.insert(MODERATOR.to_owned(), s(subscriber.moderator.as_str()));
        item.insert(ADDRESS.to_owned(), s(subscriber.address.as_str()));
        item.insert(SINCE.to_owned(), millis(subscriber.since));
        Ok(self.put(item).await?)
    }

    async fn unsubscribe_escalations(
        &self,
        moderator: &ModeratorId,
    ) -> Result<(), NotificationsError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(subscriber_key(moderator)))
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:DeleteItem", e))?;
        Ok(())
    }

    async fn escalation_subscription(
        &self,
        moderator: &ModeratorId,
    ) -> Result<Option<EscalationSubscriber>, NotificationsError> {
        let item = get_consistent(&self.client, &self.table, subscriber_key(moderator)).await?;
        item.as_ref()
            .map(subscriber_from)
            .transpose()
            .map_err(bad("notifications.escalation_subscription"))
    }

    async fn escalation_subscribers(
        &self,
    ) -> Result<Vec<EscalationSubscriber>, NotificationsError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(SUBSCRIBERS_PK))
            .consistent_read(true);
        let items = query_all(query).await?;
        items
            .iter()
            .map(subscriber_from)
            .collect::<Result<_, _>>()
            .map_err(bad("notifications.escalation_subscribers"))
    }

    #[tracing::instrument(skip_all, fields(upload_id = %key.upload, status = %key.status))]
    async fn claim(&self, key: &SentKey, at: Timestamp) -> Result<bool, NotificationsError> {
        let mut item = sent_key(key);
        item.insert(CLAIMED_AT.to_owned(), millis(at));
        Ok(put_if_absent(&self.client, &self.table, item, PK).await?)
    }

    #[tracing::instrument(skip_all, fields(upload_id = %key.upload, status = %key.status))]
    async fn release(&self, key: &SentKey) -> Result<(), NotificationsError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(sent_key(key)))
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:DeleteItem", e))?;
        Ok(())
    }

    async fn forget(&self, user: &OwnerId) -> Result<(), NotificationsError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(preference_key(user)))
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:DeleteItem", e))?;
        Ok(())
    }

    /// The upload's entries share its partition (`S#{upload}`): one query, then a
    /// `DeleteItem` each.
    async fn forget_upload(&self, upload: &UploadId) -> Result<(), NotificationsError> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", AttributeValue::S(format!("S#{upload}")))
            .consistent_read(true);
        for item in super::query_all(request).await? {
            let (Some(pk), Some(sk)) = (item.get(PK), item.get(SK)) else {
                continue;
            };
            let key = Item::from([(PK.to_owned(), pk.clone()), (SK.to_owned(), sk.clone())]);
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .send()
                .await
                .map_err(|e| backend_error("dynamodb:DeleteItem", e))?;
        }
        Ok(())
    }
}
