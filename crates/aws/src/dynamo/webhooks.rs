//! `DynamoWebhooks`: the webhooks port over a DynamoDB table of its own, `{prefix}-webhooks`.
//!
//! | `pk` | `sk` | holds |
//! |---|---|---|
//! | `ENDPOINTS` | `{endpoint}` | one endpoint, secrets included |
//! | `E#{endpoint}` | `D#{delivery}` | one delivery; `due` and `next_attempt_at` while pending, `lease_until` while claimed |
//! | `E#{endpoint}` | `V#{event id}` | the guard that makes (endpoint, event) unique |
//! | `D#{delivery}` | `POINTER` | the delivery's `endpoint`, for `record`, which knows only the id |
//!
//! Why a table of its own: it holds signing secrets, so IAM can grant it to the functions that
//! deliver and administer webhooks and to nothing else, and none of its items belong in a
//! restaurant's partition or an upload's item.
//!
//! Why this layout: every read the contract makes right after a write (`get`, `list`,
//! `deliveries`, `delivery`, `record`'s lookup) is a strongly consistent `GetItem` or `Query`
//! on the table. Endpoints share one partition, so `list` is one query; there are few of
//! them and they change rarely. An endpoint's deliveries share its partition, sorted by their
//! v7 ids (creation order), so `deliveries` is one query read backwards and `delete` finds
//! everything to remove with one query. `enqueue` writes the guard, the delivery and its
//! pointer in one `TransactWriteItems`, each `attribute_not_exists`: a second enqueue of the
//! same event fails the guard's condition and writes nothing.
//!
//! `claim_due` is the one read from a secondary index: the sparse `due` index (partition
//! `due`, present only on pending deliveries, always `pending`; sort `next_attempt_at`). Like
//! every GSI it is eventually consistent on DynamoDB: a delivery just enqueued, retried or
//! recorded may be missing from it, or still listed after it stopped being due, for a moment.
//! So the index only proposes candidates; each is claimed by a conditional `UpdateItem` on
//! the table ("still pending, due by now, and no unexpired lease") that sets `lease_until`,
//! and only a delivery whose write succeeded is returned. Two claimers never both get one,
//! and a stale index entry costs a failed condition, never a double delivery. A delivery
//! missing from the index is claimed on a later call. Every pending delivery shares one index
//! partition, which caps claiming at about a thousand writes a second: ample for webhooks.
//!
//! `delete` is not one transaction (an endpoint may have more deliveries than a transaction
//! takes): it removes the endpoint, then every item of its partition and their pointers. No
//! delivery outlives it, because `enqueue`'s transaction also checks that the endpoint
//! exists: an enqueue that commits before the endpoint goes is seen by the (strongly
//! consistent) query that follows, and one after it fails. So, unlike SQLite, enqueueing to
//! an endpoint that does not exist stores nothing and answers `false` (the contract says
//! nothing of it; `vetted serve` enqueues only to endpoints it has just listed). If
//! `delete` stops half way, deleting again finishes the job, though it then answers `false`.

mod item;

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError as DynamoSdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, DeleteRequest, Put, ReturnValue, TransactWriteItem,
    WriteRequest,
};
use vetted_core::Timestamp;
use vetted_core::ports::{BackendError, Webhooks, WebhooksError};
use vetted_core::webhooks::{Attempt, AttemptNext, Delivery, DeliveryId, Endpoint, EndpointId};

use super::item::{BadItem, Item, millis, n, s};
use super::{get_consistent, put_if_absent, put_refused};
use crate::errors::{backend_error, unusable_answer};
use item::{
    ATTEMPTS, DELIVERY_PREFIX, DUE, DUE_VALUE, ENDPOINT, ENDPOINTS_PK, LAST_ERROR, LAST_RESPONSE,
    LEASE_UNTIL, NEXT_ATTEMPT_AT, PK, SK, STATUS, UPDATED_AT, deliveries_pk, delivery_from,
    delivery_item, delivery_key, endpoint_from, endpoint_item, endpoint_key, event_key, key,
    pointer_endpoint, pointer_key,
};

/// The index `claim_due` reads: partition `due` (on pending deliveries only), sort
/// `next_attempt_at` (Unix ms).
pub const DUE_INDEX: &str = "due";

/// The key attributes of the table and its index, with their types, for creating the table.
pub const KEY_ATTRIBUTES: [(&str, &str); 4] =
    [(PK, "S"), (SK, "S"), (DUE, "S"), (NEXT_ATTEMPT_AT, "N")];
/// The table's partition and sort keys.
pub const TABLE_KEY: (&str, &str) = (PK, SK);
/// The secondary index: name, partition attribute, sort attribute.
pub const INDEX: (&str, &str, &str) = (DUE_INDEX, DUE, NEXT_ATTEMPT_AT);

/// `BatchWriteItem` takes at most this many requests.
const BATCH_WRITE_LIMIT: usize = 25;
/// Rounds of `UnprocessedItems` (DynamoDB throttling part of a batch) before giving up.
const BATCH_WRITE_ROUNDS: u32 = 5;

/// Webhook endpoints and their deliveries in one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoWebhooks {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn bad(operation: &'static str) -> impl Fn(BadItem) -> WebhooksError {
    move |e| BackendError::permanent(operation, e).into()
}

fn built<T>(
    operation: &'static str,
    result: Result<T, aws_smithy_types::error::operation::BuildError>,
) -> Result<T, WebhooksError> {
    result.map_err(|e| BackendError::permanent(operation, e).into())
}

fn millis_of(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Whether a conditional update found no item, or one that fails its condition.
fn update_refused(e: &DynamoSdkError<UpdateItemError>) -> bool {
    e.as_service_error()
        .is_some_and(|s| s.is_conditional_check_failed_exception())
}

/// Whether a transaction was cancelled because one of its conditions failed (rather than a
/// conflict with another transaction, which is worth retrying).
pub(super) fn condition_failed(e: &DynamoSdkError<TransactWriteItemsError>) -> bool {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("ConditionalCheckFailed")),
        _ => false,
    }
}

impl DynamoWebhooks {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get_item(&self, key: Item) -> Result<Option<Item>, WebhooksError> {
        Ok(get_consistent(&self.client, &self.table, key).await?)
    }

    /// Items of partition `partition`, all pages, strongly consistent; with `prefix`, only
    /// those whose sort key starts with it. `limit` stops early, `backwards` reads the sort
    /// key descending.
    async fn query_partition(
        &self,
        partition: String,
        prefix: Option<&str>,
        backwards: bool,
        limit: Option<usize>,
    ) -> Result<Vec<Item>, WebhooksError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(partition.clone()))
                .scan_index_forward(!backwards)
                .consistent_read(true)
                .set_exclusive_start_key(start);
            request = match prefix {
                Some(prefix) => request
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":prefix", s(prefix)),
                None => request.key_condition_expression("#pk = :pk"),
            };
            if let Some(limit) = limit {
                let left = limit.saturating_sub(items.len()).max(1);
                request = request.limit(i32::try_from(left).unwrap_or(i32::MAX));
            }
            let output = request
                .send()
                .await
                .map_err(|e| backend_error("dynamodb:Query", e))?;
            items.extend(output.items.unwrap_or_default());
            if limit.is_some_and(|limit| items.len() >= limit) {
                return Ok(items);
            }
            match output.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(items),
            }
        }
    }

    /// Deletes `keys` in batches, retrying what DynamoDB leaves unprocessed.
    async fn delete_all(&self, keys: Vec<Item>) -> Result<(), WebhooksError> {
        for chunk in keys.chunks(BATCH_WRITE_LIMIT) {
            let mut requests = chunk
                .iter()
                .map(|k| {
                    let delete = built(
                        "dynamodb:BatchWriteItem",
                        DeleteRequest::builder().set_key(Some(k.clone())).build(),
                    )?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<Result<Vec<_>, WebhooksError>>()?;
            let mut round = 0;
            while !requests.is_empty() {
                if round == BATCH_WRITE_ROUNDS {
                    return Err(unusable_answer(
                        "dynamodb:BatchWriteItem",
                        format!("items still unprocessed after {BATCH_WRITE_ROUNDS} rounds"),
                    )
                    .into());
                }
                if round > 0 {
                    tokio::time::sleep(Duration::from_millis(50 << round)).await;
                }
                round += 1;
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| backend_error("dynamodb:BatchWriteItem", e))?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default();
            }
        }
        Ok(())
    }

    /// Reads the delivery out of an `ALL_NEW` update's answer.
    fn updated(
        operation: &'static str,
        output: UpdateItemOutput,
    ) -> Result<Delivery, WebhooksError> {
        let item = output.attributes.unwrap_or_default();
        delivery_from(&item).map_err(bad(operation))
    }

    /// Claims one delivery the index proposed: succeeds only if, on the table itself, it is
    /// still pending, due by `now` and held by no unexpired lease.
    async fn claim_one(
        &self,
        candidate: &Item,
        now: Timestamp,
        until: i64,
    ) -> Result<Option<Delivery>, WebhooksError> {
        let (Some(partition), Some(sort)) = (candidate.get(PK), candidate.get(SK)) else {
            return Err(unusable_answer("dynamodb:Query", "an index item without its key").into());
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, partition.clone())
            .key(SK, sort.clone())
            .update_expression("SET #lease = :until")
            .condition_expression(
                "#due = :due AND #next <= :now AND \
                 (attribute_not_exists(#lease) OR #lease <= :now)",
            )
            .expression_attribute_names("#lease", LEASE_UNTIL)
            .expression_attribute_names("#due", DUE)
            .expression_attribute_names("#next", NEXT_ATTEMPT_AT)
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":due", s(DUE_VALUE))
            .expression_attribute_values(":now", millis(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => Self::updated("dynamodb:UpdateItem", output).map(Some),
            // Claimed by someone else, recorded, retried to later or deleted since the index
            // listed it: not ours.
            Err(e) if update_refused(&e) => Ok(None),
            Err(e) => Err(backend_error("dynamodb:UpdateItem", e).into()),
        }
    }
}

#[async_trait]
impl Webhooks for DynamoWebhooks {
    #[tracing::instrument(skip_all, fields(endpoint = %endpoint.id))]
    async fn create(&self, endpoint: &Endpoint) -> Result<(), WebhooksError> {
        if put_if_absent(&self.client, &self.table, endpoint_item(endpoint), PK).await? {
            Ok(())
        } else {
            Err(WebhooksError::AlreadyExists(endpoint.id))
        }
    }

    #[tracing::instrument(skip(self))]
    async fn get(&self, id: &EndpointId) -> Result<Endpoint, WebhooksError> {
        let item = self
            .get_item(endpoint_key(id))
            .await?
            .ok_or(WebhooksError::NotFound(*id))?;
        endpoint_from(&item).map_err(bad("dynamodb:GetItem"))
    }

    #[tracing::instrument(skip(self))]
    async fn list(&self) -> Result<Vec<Endpoint>, WebhooksError> {
        let mut endpoints = self
            .query_partition(ENDPOINTS_PK.to_owned(), None, false, None)
            .await?
            .iter()
            .map(endpoint_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad("dynamodb:Query"))?;
        // The partition sorts by id; the port lists oldest first, as SQLite does.
        endpoints.sort_by_key(|e| (e.created_at, e.id));
        Ok(endpoints)
    }

    #[tracing::instrument(skip_all, fields(endpoint = %endpoint.id))]
    async fn update(&self, endpoint: &Endpoint) -> Result<(), WebhooksError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(endpoint_item(endpoint)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if put_refused(&e) => Err(WebhooksError::NotFound(endpoint.id)),
            Err(e) => Err(backend_error("dynamodb:PutItem", e).into()),
        }
    }

    #[tracing::instrument(skip(self))]
    async fn delete(&self, id: &EndpointId) -> Result<bool, WebhooksError> {
        // The endpoint first, so that no enqueue commits after the query below (see the
        // module's doc).
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(endpoint_key(id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:DeleteItem", e))?;
        let existed = output.attributes.is_some_and(|old| !old.is_empty());
        let items = self
            .query_partition(deliveries_pk(id), None, false, None)
            .await?;
        let mut keys = Vec::with_capacity(items.len() * 2);
        for item in &items {
            let (Some(AttributeValue::S(partition)), Some(AttributeValue::S(sort))) =
                (item.get(PK), item.get(SK))
            else {
                return Err(unusable_answer("dynamodb:Query", "an item without its key").into());
            };
            if let Some(delivery) = sort.strip_prefix(DELIVERY_PREFIX) {
                let delivery = DeliveryId::parse(delivery)
                    .map_err(|e| BackendError::permanent("dynamodb:Query", e))?;
                keys.push(pointer_key(&delivery));
            }
            keys.push(key(partition.clone(), sort.clone()));
        }
        self.delete_all(keys).await?;
        Ok(existed)
    }

    #[tracing::instrument(skip_all, fields(endpoint = %delivery.endpoint, event_id = %delivery.event_id))]
    async fn enqueue(&self, delivery: &Delivery) -> Result<bool, WebhooksError> {
        const OPERATION: &str = "dynamodb:TransactWriteItems";
        let mut guard = event_key(&delivery.endpoint, &delivery.event_id);
        guard.insert("delivery".to_owned(), s(delivery.id.to_string()));
        let mut pointer = pointer_key(&delivery.id);
        pointer.insert(ENDPOINT.to_owned(), s(delivery.endpoint.to_string()));
        let mut request = self.client.transact_write_items();
        for item in [guard, delivery_item(delivery), pointer] {
            let put = built(
                OPERATION,
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", PK)
                    .build(),
            )?;
            request = request.transact_items(TransactWriteItem::builder().put(put).build());
        }
        let endpoint_exists = built(
            OPERATION,
            ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(endpoint_key(&delivery.endpoint)))
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build(),
        )?;
        request = request.transact_items(
            TransactWriteItem::builder()
                .condition_check(endpoint_exists)
                .build(),
        );
        match request.send().await {
            Ok(_) => Ok(true),
            // The guard (or, for a repeated call, the delivery itself) is there already, or
            // the endpoint is not.
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(backend_error(OPERATION, e).into()),
        }
    }

    #[tracing::instrument(skip(self))]
    async fn claim_due(
        &self,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Delivery>, WebhooksError> {
        let until = now.unix_millis().saturating_add(millis_of(lease));
        let wanted = limit as usize;
        let mut claimed = Vec::new();
        let mut start = None;
        while claimed.len() < wanted {
            // The index is eventually consistent: what it lists is only a candidate, which
            // `claim_one`'s conditional write on the table confirms or refuses. The filter
            // merely spares writes for leases the index already shows unexpired.
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(DUE_INDEX)
                .key_condition_expression("#due = :due AND #next <= :now")
                .filter_expression("attribute_not_exists(#lease) OR #lease <= :now")
                .expression_attribute_names("#due", DUE)
                .expression_attribute_names("#next", NEXT_ATTEMPT_AT)
                .expression_attribute_names("#lease", LEASE_UNTIL)
                .expression_attribute_values(":due", s(DUE_VALUE))
                .expression_attribute_values(":now", millis(now))
                .scan_index_forward(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| backend_error("dynamodb:Query", e))?;
            for candidate in output.items() {
                if claimed.len() == wanted {
                    break;
                }
                if let Some(delivery) = self.claim_one(candidate, now, until).await? {
                    claimed.push(delivery);
                }
            }
            match output.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => break,
            }
        }
        Ok(claimed)
    }

    #[tracing::instrument(skip(self, attempt))]
    async fn record(&self, id: &DeliveryId, attempt: &Attempt) -> Result<(), WebhooksError> {
        let pointer = self
            .get_item(pointer_key(id))
            .await?
            .ok_or(WebhooksError::DeliveryNotFound(*id))?;
        let endpoint = pointer_endpoint(&pointer).map_err(bad("dynamodb:GetItem"))?;

        let mut sets = vec![
            "#attempts = #attempts + :one",
            "#status = :status",
            "#updated_at = :at",
        ];
        let mut removes = vec!["#lease"];
        let mut values = vec![(":one", n(1)), (":at", millis(attempt.at))];
        let status = match attempt.next {
            AttemptNext::Delivered => "delivered",
            AttemptNext::Failed => "failed",
            AttemptNext::RetryAt(_) => "pending",
        };
        values.push((":status", s(status)));
        match attempt.response {
            Some(code) => {
                sets.push("#last_response = :response");
                values.push((":response", n(code)));
            }
            None => removes.push("#last_response"),
        }
        match &attempt.error {
            Some(error) => {
                sets.push("#last_error = :error");
                values.push((":error", s(error)));
            }
            None => removes.push("#last_error"),
        }
        // The sparse `due` index holds exactly the pending deliveries.
        match attempt.next {
            AttemptNext::RetryAt(at) => {
                sets.extend(["#next = :next", "#due = :due"]);
                values.extend([(":next", millis(at)), (":due", s(DUE_VALUE))]);
            }
            AttemptNext::Delivered | AttemptNext::Failed => removes.extend(["#next", "#due"]),
        }
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(delivery_key(&endpoint, id)))
            .update_expression(format!(
                "SET {} REMOVE {}",
                sets.join(", "),
                removes.join(", ")
            ))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#attempts", ATTEMPTS)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#updated_at", UPDATED_AT)
            .expression_attribute_names("#lease", LEASE_UNTIL)
            .expression_attribute_names("#last_response", LAST_RESPONSE)
            .expression_attribute_names("#last_error", LAST_ERROR)
            .expression_attribute_names("#next", NEXT_ATTEMPT_AT)
            .expression_attribute_names("#due", DUE);
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            // The pointer outlived its delivery: the endpoint is being deleted.
            Err(e) if update_refused(&e) => Err(WebhooksError::DeliveryNotFound(*id)),
            Err(e) => Err(backend_error("dynamodb:UpdateItem", e).into()),
        }
    }

    #[tracing::instrument(skip(self))]
    async fn deliveries(
        &self,
        endpoint: &EndpointId,
        limit: u32,
    ) -> Result<Vec<Delivery>, WebhooksError> {
        self.get(endpoint).await?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Delivery ids are v7 UUIDs, so the sort key read backwards is newest first.
        self.query_partition(
            deliveries_pk(endpoint),
            Some(DELIVERY_PREFIX),
            true,
            Some(limit as usize),
        )
        .await?
        .iter()
        .take(limit as usize)
        .map(delivery_from)
        .collect::<Result<_, _>>()
        .map_err(bad("dynamodb:Query"))
    }

    #[tracing::instrument(skip(self))]
    async fn delivery(
        &self,
        endpoint: &EndpointId,
        id: &DeliveryId,
    ) -> Result<Delivery, WebhooksError> {
        // Keyed under its endpoint: asked under another, it is simply not there.
        let item = self
            .get_item(delivery_key(endpoint, id))
            .await?
            .ok_or(WebhooksError::DeliveryNotFound(*id))?;
        delivery_from(&item).map_err(bad("dynamodb:GetItem"))
    }

    #[tracing::instrument(skip(self))]
    async fn retry(
        &self,
        endpoint: &EndpointId,
        id: &DeliveryId,
        now: Timestamp,
    ) -> Result<Delivery, WebhooksError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(delivery_key(endpoint, id)))
            .update_expression(
                "SET #status = :pending, #next = :now, #due = :due, #updated_at = :now \
                 REMOVE #lease",
            )
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#next", NEXT_ATTEMPT_AT)
            .expression_attribute_names("#due", DUE)
            .expression_attribute_names("#updated_at", UPDATED_AT)
            .expression_attribute_names("#lease", LEASE_UNTIL)
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", millis(now))
            .expression_attribute_values(":due", s(DUE_VALUE))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => Self::updated("dynamodb:UpdateItem", output),
            Err(e) if update_refused(&e) => Err(WebhooksError::DeliveryNotFound(*id)),
            Err(e) => Err(backend_error("dynamodb:UpdateItem", e).into()),
        }
    }
}
