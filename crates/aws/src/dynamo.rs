//! `DynamoUploads`: the record store port over one DynamoDB table.
//!
//! One item per upload, keyed by `id`. The moderator queue reads the `by-status` index
//! (status, then `status_since`), owners read `by-owner` (owner, then `created_at`), and a
//! restaurant's pending requests read `in-progress`, a sparse index: only items whose status
//! [`is_in_progress`](Status::is_in_progress) carry its partition attribute `in_progress`
//! (a copy of `restaurant`), which every transition sets or removes. A purge reads
//! `by-restaurant` (restaurant, then `created_at`): every upload of a restaurant, whatever its
//! status. Content-hash dedup reads `by-sha256` (the digest, then `created_at`), sparse: only
//! items whose digest is known carry `sha256`. Items written before uploads targeted a restaurant have no `restaurant` attribute
//! and are in no such listing. A
//! transition is one `UpdateItem` conditioned on the expected status, mirroring
//! [`UploadRecord::apply`] field by field, so that races have exactly one winner. Intents carry
//! a `ttl` so that DynamoDB removes the ones never uploaded; any transition removes it.
//!
//! Restaurants, members and slots live in a table of their own: [`DynamoRestaurants`], in
//! [`restaurants`]. Webhook endpoints and deliveries have a table of their own too:
//! [`DynamoWebhooks`], in [`webhooks`]. Email preferences and the sent ledger too:
//! [`DynamoNotifications`], in [`notifications`].

pub mod audit;
pub mod banned;
pub mod invitations;
mod item;
pub mod notifications;
mod paging;
pub mod restaurants;
pub mod webhooks;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use vetted_core::ports::{BackendError, Page, PageRequest, Uploads, UploadsError};
use vetted_core::restaurant::RestaurantId;
use vetted_core::{ContentSha256, OwnerId, Status, TaskToken, Transition, UploadId, UploadRecord};

pub use audit::DynamoAudit;
pub use banned::DynamoBanned;
pub use invitations::DynamoInvitations;
pub use item::BadItem;
use item::{
    CREATED_AT, ESCALATION_LEVEL, ID, IN_PROGRESS_ATTRIBUTE, Item, OWNER, RESTAURANT, SHA256,
    STATUS, STATUS_SINCE, TASK_TOKEN, TTL, changed_attributes, from_item, millis, n, s, to_item,
};
pub use notifications::DynamoNotifications;
use paging::Index;
pub use restaurants::DynamoRestaurants;
pub use webhooks::DynamoWebhooks;

use crate::errors::{SdkError, backend_error};

/// The table's partition key (a string: the upload id).
pub const HASH_KEY: &str = ID;
/// The index the moderator queue reads: partition `status`, sort `status_since` (Unix ms).
pub const BY_STATUS_INDEX: &str = "by-status";
/// The index owners' listings read: partition `owner`, sort `created_at` (Unix ms).
pub const BY_OWNER_INDEX: &str = "by-owner";
/// The sparse index of change requests in progress: partition `in_progress` (the
/// restaurant, present only while in progress), sort `created_at`.
pub const IN_PROGRESS_INDEX: &str = "in-progress";
/// Every upload of a restaurant: partition `restaurant`, sort `created_at`.
pub const BY_RESTAURANT_INDEX: &str = "by-restaurant";
/// Uploads of the same bytes: partition `sha256` (base64; sparse, present once the digest is
/// known), sort `created_at`.
pub const BY_SHA256_INDEX: &str = "by-sha256";
/// The TTL attribute (Unix seconds), present only while a record awaits its upload.
pub const TTL_ATTRIBUTE: &str = TTL;

const BY_STATUS: Index = Index {
    name: BY_STATUS_INDEX,
    partition: STATUS,
    sort: STATUS_SINCE,
};
const BY_OWNER: Index = Index {
    name: BY_OWNER_INDEX,
    partition: OWNER,
    sort: CREATED_AT,
};
const IN_PROGRESS: Index = Index {
    name: IN_PROGRESS_INDEX,
    partition: IN_PROGRESS_ATTRIBUTE,
    sort: CREATED_AT,
};
const BY_RESTAURANT: Index = Index {
    name: BY_RESTAURANT_INDEX,
    partition: RESTAURANT,
    sort: CREATED_AT,
};
const BY_SHA256: Index = Index {
    name: BY_SHA256_INDEX,
    partition: SHA256,
    sort: CREATED_AT,
};

/// The key attributes of the table and its indexes, with their types, for creating the table.
pub const KEY_ATTRIBUTES: [(&str, &str); 8] = [
    (ID, "S"),
    (STATUS, "S"),
    (STATUS_SINCE, "N"),
    (OWNER, "S"),
    (CREATED_AT, "N"),
    (IN_PROGRESS_ATTRIBUTE, "S"),
    (RESTAURANT, "S"),
    (SHA256, "S"),
];

/// The secondary indexes: name, partition attribute, sort attribute.
pub const INDEXES: [(&str, &str, &str); 5] = [
    (BY_STATUS_INDEX, STATUS, STATUS_SINCE),
    (BY_OWNER_INDEX, OWNER, CREATED_AT),
    (IN_PROGRESS_INDEX, IN_PROGRESS_ATTRIBUTE, CREATED_AT),
    (BY_RESTAURANT_INDEX, RESTAURANT, CREATED_AT),
    (BY_SHA256_INDEX, SHA256, CREATED_AT),
];

/// Upload records in one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoUploads {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoUploads {
    /// One conditional `UpdateItem`: the record as written, or `Conflict` with the record as
    /// it stands (`expected` names the status the condition wanted).
    async fn conditional_update(
        &self,
        id: &UploadId,
        update: String,
        condition: String,
        values: Vec<(String, AttributeValue)>,
        expected: Status,
    ) -> Result<UploadRecord, UploadsError> {
        let names = placeholder_names(&format!("{update} {condition}"));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(ID, s(id.to_string()))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names.into_iter().collect()))
            .set_expression_attribute_values(Some(values.into_iter().collect()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let old_item = match result {
            Ok(output) => {
                let item = output.attributes.unwrap_or_default();
                return Self::record("dynamodb:UpdateItem", &item);
            }
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    failed.item().cloned()
                }
                _ => return Err(backend_error("dynamodb:UpdateItem", e).into()),
            },
        };
        // The old item is the record as it stands (`ReturnValuesOnConditionCheckFailure`);
        // without it (or if there was no item at all), read it: a missing record is
        // `NotFound`, not a conflict.
        let current = match old_item {
            Some(item) => Self::record("dynamodb:UpdateItem", &item)?,
            None => self.get(id).await?,
        };
        Err(UploadsError::Conflict {
            expected,
            current: Box::new(current),
        })
    }
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn record(operation: &'static str, item: &Item) -> Result<UploadRecord, UploadsError> {
        from_item(item).map_err(|e| BackendError::permanent(operation, e).into())
    }

    async fn list(
        &self,
        index: Index,
        partition: &str,
        newest_first: bool,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        let limit = page.limit.clamp(1, 100) as usize;
        let start = match &page.after {
            None => None,
            Some(token) => {
                Some(paging::decode(token, index, partition).ok_or(UploadsError::BadPageToken)?)
            }
        };
        // One extra item says whether another page exists, so `next` is `None` on the last.
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", index.partition)
            .expression_attribute_values(":pk", s(partition))
            .scan_index_forward(!newest_first)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:Query", e))?;
        let mut items = output.items.unwrap_or_default();
        let next = if items.len() > limit {
            items.truncate(limit);
            items
                .last()
                .map(|last| paging::encode(&paging::key_after(index, last)))
        } else {
            // Fewer than asked, yet a start key: DynamoDB stopped at its 1 MB page size.
            output.last_evaluated_key.as_ref().map(paging::encode)
        };
        let items = items
            .iter()
            .map(|item| Self::record("dynamodb:Query", item))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next })
    }
}

/// `UpdateItem` parts for one transition, mirroring `UploadRecord::apply`.
fn update_expression(transition: &Transition) -> (String, Vec<(String, AttributeValue)>) {
    let mut sets = vec![format!("#{STATUS} = :to"), format!("#{STATUS_SINCE} = :at")];
    let mut values = vec![
        (":to".to_owned(), s(transition.to.as_str())),
        (":at".to_owned(), millis(transition.at)),
        (":from".to_owned(), s(transition.from.as_str())),
    ];
    // No move enters AWAITING_UPLOAD, so whatever a transition does, the intent's TTL goes.
    let mut removes = vec![format!("#{TTL}")];
    let keeps_token = transition.to.awaits_decision();
    for (name, value) in changed_attributes(&transition.changes) {
        if name == TASK_TOKEN && !keeps_token {
            continue;
        }
        sets.push(format!("#{name} = :{name}"));
        values.push((format!(":{name}"), value));
    }
    if !keeps_token {
        removes.push(format!("#{TASK_TOKEN}"));
    }
    // The sparse `in-progress` index holds exactly the items in progress.
    if transition.to.is_in_progress() {
        sets.push(format!("#{IN_PROGRESS_ATTRIBUTE} = #{RESTAURANT}"));
    } else {
        removes.push(format!("#{IN_PROGRESS_ATTRIBUTE}"));
    }
    let expression = format!("SET {} REMOVE {}", sets.join(", "), removes.join(", "));
    (expression, values)
}

/// Every `#name` placeholder in an expression, resolved to the attribute it names.
fn placeholder_names(expression: &str) -> Vec<(String, String)> {
    let mut names: Vec<(String, String)> = expression
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '#'))
        .filter_map(|word| word.strip_prefix('#'))
        .map(|name| (format!("#{name}"), name.to_owned()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Whether a conditional put found the item there already.
pub(crate) fn put_refused(e: &SdkError<PutItemError>) -> bool {
    e.as_service_error()
        .is_some_and(|s| s.is_conditional_check_failed_exception())
}

/// The item with `key`, read strongly consistent (every adapter reads its own writes back).
pub(crate) async fn get_consistent(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: Item,
) -> Result<Option<Item>, BackendError> {
    let output = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| backend_error("dynamodb:GetItem", e))?;
    Ok(output.item)
}

/// Every item `query` matches, reading page after page until DynamoDB has no more.
pub(crate) async fn query_all(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> Result<Vec<Item>, BackendError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let output = query
            .clone()
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:Query", e))?;
        items.extend(output.items.unwrap_or_default());
        match output.last_evaluated_key {
            Some(next) if !next.is_empty() => start = Some(next),
            _ => return Ok(items),
        }
    }
}

/// `PutItem` of `item` unless an item with its key exists (`key_attribute` is an attribute
/// every item of the table has): `Ok(true)` when written, `Ok(false)` when one was there.
pub(crate) async fn put_if_absent(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    item: Item,
    key_attribute: &str,
) -> Result<bool, BackendError> {
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#key)")
        .expression_attribute_names("#key", key_attribute)
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(e) if put_refused(&e) => Ok(false),
        Err(e) => Err(backend_error("dynamodb:PutItem", e)),
    }
}

#[async_trait]
impl Uploads for DynamoUploads {
    #[tracing::instrument(skip(self, record), fields(upload_id = %record.id))]
    async fn create(&self, record: &UploadRecord) -> Result<(), UploadsError> {
        if put_if_absent(&self.client, &self.table, to_item(record), ID).await? {
            Ok(())
        } else {
            Err(UploadsError::AlreadyExists(record.id))
        }
    }

    #[tracing::instrument(skip(self), fields(upload_id = %id))]
    async fn get(&self, id: &UploadId) -> Result<UploadRecord, UploadsError> {
        let key = Item::from([(ID.to_owned(), s(id.to_string()))]);
        let item = get_consistent(&self.client, &self.table, key)
            .await?
            .ok_or(UploadsError::NotFound(*id))?;
        Self::record("dynamodb:GetItem", &item)
    }

    #[tracing::instrument(skip(self, transition), fields(upload_id = %id, from = %transition.from, to = %transition.to))]
    async fn transition(
        &self,
        id: &UploadId,
        transition: &Transition,
    ) -> Result<UploadRecord, UploadsError> {
        let (update, values) = update_expression(transition);
        let condition = format!("#{STATUS} = :from");
        self.conditional_update(id, update, condition, values, transition.from)
            .await
    }

    #[tracing::instrument(skip(self, task_token), fields(upload_id = %id))]
    async fn set_review_stage(
        &self,
        id: &UploadId,
        level: u8,
        task_token: Option<&TaskToken>,
    ) -> Result<UploadRecord, UploadsError> {
        let mut update = format!("SET #{ESCALATION_LEVEL} = :level");
        let mut values = vec![
            (":level".to_owned(), n(level)),
            (":in_review".to_owned(), s(Status::InReview.as_str())),
            (
                ":awaiting_second".to_owned(),
                s(Status::AwaitingSecond.as_str()),
            ),
        ];
        if let Some(token) = task_token {
            update.push_str(&format!(", #{TASK_TOKEN} = :token"));
            values.push((":token".to_owned(), s(token.expose())));
        }
        let condition = format!(
            "#{STATUS} IN (:in_review, :awaiting_second) AND (attribute_not_exists(#{ESCALATION_LEVEL}) \
             OR #{ESCALATION_LEVEL} <= :level)"
        );
        self.conditional_update(id, update, condition, values, Status::InReview)
            .await
    }

    #[tracing::instrument(skip(self, page))]
    async fn list_by_owner(
        &self,
        owner: &OwnerId,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        self.list(BY_OWNER, owner.as_str(), true, page).await
    }

    #[tracing::instrument(skip(self, page))]
    async fn list_by_status(
        &self,
        status: Status,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        self.list(BY_STATUS, status.as_str(), false, page).await
    }

    #[tracing::instrument(skip(self, page))]
    async fn list_in_progress(
        &self,
        restaurant: &RestaurantId,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        self.list(IN_PROGRESS, restaurant.as_str(), true, page)
            .await
    }

    async fn list_by_restaurant(
        &self,
        restaurant: &RestaurantId,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        self.list(BY_RESTAURANT, restaurant.as_str(), true, page)
            .await
    }

    /// One `UpdateItem` setting `sha256` on condition that the item exists and has none; a
    /// refusal returns the item as it stands.
    #[tracing::instrument(skip(self, sha256), fields(upload_id = %id))]
    async fn record_sha256(
        &self,
        id: &UploadId,
        sha256: &ContentSha256,
    ) -> Result<UploadRecord, UploadsError> {
        let update = format!("SET #{SHA256} = :sha256");
        let condition = format!("attribute_exists(#{ID}) AND attribute_not_exists(#{SHA256})");
        let values = vec![(":sha256".to_owned(), s(sha256.to_base64()))];
        // `expected` is unused: a refusal here is not a status conflict.
        match self
            .conditional_update(id, update, condition, values, Status::Received)
            .await
        {
            Err(UploadsError::Conflict { current, .. }) => Ok(*current),
            other => other,
        }
    }

    #[tracing::instrument(skip(self, sha256, page))]
    async fn list_by_sha256(
        &self,
        sha256: &ContentSha256,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        self.list(BY_SHA256, &sha256.to_base64(), true, page).await
    }

    /// One `DeleteItem` returning the old item, which says whether there was one.
    #[tracing::instrument(skip(self), fields(upload_id = %id))]
    async fn delete(&self, id: &UploadId) -> Result<bool, UploadsError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(ID, s(id.to_string()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:DeleteItem", e))?;
        Ok(output.attributes.is_some_and(|old| !old.is_empty()))
    }
}
