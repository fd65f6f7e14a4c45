//! `DynamoRestaurants`: the restaurants port over one DynamoDB table, one partition per
//! restaurant.
//!
//! | `pk` | `sk` | holds |
//! |---|---|---|
//! | `R#{restaurant}` | `META` | the restaurant: name, `created_at` |
//! | `R#{restaurant}` | `M#{user}` | one member: `user`, `role`, `added_at` |
//! | `R#{restaurant}` | `S#{slot}` | a slot's state: `revision`, `changed_at`, `cause`, `previous`, the live image as `live_*` |
//! | `R#{restaurant}` | `H#{slot}#{upload}` | one image ever offered to the slot |
//!
//! Member items alone carry `user`, so the `by-user` index (partition `user`, sort
//! `restaurant`) holds memberships and nothing else; `restaurants_of` reads it, then the
//! restaurants' `META` items. That index, like every DynamoDB secondary index, is eventually
//! consistent: a membership just added may take a moment to be listed there. Everything else
//! reads the table with strongly consistent reads.
//!
//! The slot item is the one contended item. `offer` writes the history item first (once: a
//! retry finds it there), then applies [`SlotState::offer`] as one conditional `UpdateItem`:
//! the condition is "not live already, and not changed by a later decision", the update
//! replaces the live image, copies the old one into `previous` and adds one to `revision`, all
//! from the item as it was before the write. A failed condition returns the item as it stands
//! (`ReturnValuesOnConditionCheckFailure`), which tells `AlreadyLive` from `Superseded` with no
//! second read. `roll_back` reads the history item, then writes the slot conditioned on the
//! revision the moderator saw.
//!
//! Restaurants are never deleted, so checking that one exists and then writing a member
//! cannot race with its removal.

mod item;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnValue, ReturnValuesOnConditionCheckFailure,
};
use vetted_core::ports::{BackendError, Restaurants, RestaurantsError, Rollback};
use vetted_core::restaurant::{
    Member, MemberRole, OfferOutcome, Restaurant, RestaurantId, SlotImage, SlotRef, SlotState,
};
use vetted_core::{OwnerId, Timestamp};

use super::item::{BadItem, Item, millis, n, s};
use super::placeholder_names;
use crate::errors::{SdkError, UnusableAnswer, backend_error};
use item::{
    CAUSE, CAUSE_MODERATOR, CAUSE_PUBLISHED, CAUSE_ROLLED_BACK, CHANGED_AT, LIVE, META, PK,
    PREVIOUS, RESTAURANT, REVISION, SK, SLOT, USER, history_from, history_prefix, history_sk,
    image_attributes, is_member, key, member_from, member_item, member_sk, members_and_meta_range,
    pk, restaurant_from, restaurant_item, slot_of, slot_prefix, slot_sk, slot_state_from,
};

/// The index `restaurants_of` reads: partition `user`, sort `restaurant`.
pub const BY_USER_INDEX: &str = "by-user";

/// The key attributes of the table and its index, with their types, for creating the table.
pub const KEY_ATTRIBUTES: [(&str, &str); 4] =
    [(PK, "S"), (SK, "S"), (USER, "S"), (RESTAURANT, "S")];
/// The table's partition and sort keys.
pub const TABLE_KEY: (&str, &str) = (PK, SK);
/// The secondary index: name, partition attribute, sort attribute.
pub const INDEX: (&str, &str, &str) = (BY_USER_INDEX, USER, RESTAURANT);

/// `BatchGetItem` takes at most this many keys per call.
const BATCH_GET_LIMIT: usize = 100;
/// Rounds of `UnprocessedKeys` (DynamoDB throttling part of a batch) before giving up.
const BATCH_GET_ROUNDS: u32 = 5;

/// Restaurants, members and slots in one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoRestaurants {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn bad(operation: &'static str) -> impl Fn(BadItem) -> RestaurantsError {
    move |e| BackendError::permanent(operation, e).into()
}

/// Whether a conditional put found the item there already.
fn put_refused(e: &SdkError<PutItemError>) -> bool {
    e.as_service_error()
        .is_some_and(|s| s.is_conditional_check_failed_exception())
}

/// One `UpdateItem` of a slot, built from its parts so that names resolve in one place.
struct SlotWrite {
    sets: Vec<String>,
    removes: Vec<String>,
    values: Vec<(String, AttributeValue)>,
    condition: String,
}

impl SlotWrite {
    /// The parts every change of `live` shares: the new image, `previous` from the old one,
    /// `revision` plus one and `changed_at`. Every operand is the item before the write.
    fn replacing_live(slot: &SlotRef, image: &SlotImage, changed_at: Timestamp) -> Self {
        let mut sets = vec![
            format!("#{RESTAURANT} = :restaurant"),
            format!("#{SLOT} = :slot"),
            // Absent before the first change: then there is no previous image.
            format!("#{PREVIOUS} = if_not_exists(#{}, :null)", LIVE.upload),
            format!("#{REVISION} = if_not_exists(#{REVISION}, :zero) + :one"),
            format!("#{CHANGED_AT} = :changed_at"),
        ];
        let mut values = vec![
            (":restaurant".to_owned(), s(slot.restaurant.as_str())),
            (":slot".to_owned(), s(slot.slot.to_string())),
            (":null".to_owned(), AttributeValue::Null(true)),
            (":zero".to_owned(), n(0)),
            (":one".to_owned(), n(1)),
            (":changed_at".to_owned(), millis(changed_at)),
        ];
        for (name, value) in image_attributes(&LIVE, image) {
            sets.push(format!("#{name} = :{name}"));
            values.push((format!(":{name}"), value));
        }
        Self {
            sets,
            removes: Vec::new(),
            values,
            condition: String::new(),
        }
    }

    fn expression(&self) -> String {
        let mut expression = format!("SET {}", self.sets.join(", "));
        if !self.removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", self.removes.join(", ")));
        }
        expression
    }
}

/// What a conditional slot write came to.
enum Written {
    /// The condition held: the slot as it is now.
    Done(Item),
    /// The condition failed: the slot as it stands, if there is one.
    Refused(Option<Item>),
}

impl DynamoRestaurants {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get_item(
        &self,
        partition: String,
        sort: String,
    ) -> Result<Option<Item>, RestaurantsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(partition, sort)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:GetItem", e))?;
        Ok(output.item)
    }

    async fn require(&self, restaurant: &RestaurantId) -> Result<(), RestaurantsError> {
        match self.get_item(pk(restaurant), META.to_owned()).await? {
            Some(_) => Ok(()),
            None => Err(RestaurantsError::NotFound(restaurant.clone())),
        }
    }

    /// Every item of `restaurant`'s partition whose sort key satisfies `sort_condition` (on
    /// `#sk`, with its values), all pages.
    async fn query_partition(
        &self,
        restaurant: &RestaurantId,
        sort_condition: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<Vec<Item>, RestaurantsError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(format!("#pk = :pk AND {sort_condition}"))
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(pk(restaurant)))
                .consistent_read(true)
                .set_exclusive_start_key(start);
            for (name, value) in &values {
                request = request.expression_attribute_values(*name, value.clone());
            }
            let output = request
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

    /// The `META` items of `restaurants`, by id. Ids without one are left out.
    async fn restaurants_by_id(
        &self,
        restaurants: &[RestaurantId],
    ) -> Result<HashMap<RestaurantId, Restaurant>, RestaurantsError> {
        let mut found = HashMap::new();
        for chunk in restaurants.chunks(BATCH_GET_LIMIT) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|id| key(pk(id), META.to_owned()))
                .collect();
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| BackendError::permanent("dynamodb:BatchGetItem", e))?,
            );
            let mut round = 0;
            while let Some(request) = pending.take() {
                if round == BATCH_GET_ROUNDS {
                    // DynamoDB leaves keys unprocessed when throttled: worth another try later.
                    return Err(BackendError::retryable(
                        "dynamodb:BatchGetItem",
                        UnusableAnswer(format!(
                            "keys still unprocessed after {BATCH_GET_ROUNDS} rounds"
                        )),
                    )
                    .into());
                }
                if round > 0 {
                    tokio::time::sleep(Duration::from_millis(50 << round)).await;
                }
                round += 1;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| backend_error("dynamodb:BatchGetItem", e))?;
                let items = output
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default();
                for item in &items {
                    let restaurant = restaurant_from(item).map_err(bad("dynamodb:BatchGetItem"))?;
                    found.insert(restaurant.id.clone(), restaurant);
                }
                pending = output
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys().is_empty());
            }
        }
        Ok(found)
    }

    /// One conditional `UpdateItem` of `slot`'s item, returning the item after it on success
    /// and as it stands on a failed condition.
    async fn write_slot(
        &self,
        slot: &SlotRef,
        write: SlotWrite,
    ) -> Result<Written, RestaurantsError> {
        let expression = write.expression();
        let names = placeholder_names(&format!("{expression} {}", write.condition));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk(&slot.restaurant), slot_sk(slot.slot))))
            .update_expression(expression)
            .condition_expression(write.condition)
            .set_expression_attribute_names(Some(names.into_iter().collect()))
            .set_expression_attribute_values(Some(write.values.into_iter().collect()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Written::Done(output.attributes.unwrap_or_default())),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(Written::Refused(failed.item().cloned()))
                }
                _ => Err(backend_error("dynamodb:UpdateItem", e).into()),
            },
        }
    }

    /// The slot as it stands, from an item a failed condition returned, or read when the
    /// service returned none.
    async fn current(
        &self,
        slot: &SlotRef,
        item: Option<Item>,
    ) -> Result<SlotState, RestaurantsError> {
        match item {
            Some(item) => slot_state_from(slot, &item).map_err(bad("dynamodb:UpdateItem")),
            None => self.slot(slot).await,
        }
    }
}

#[async_trait]
impl Restaurants for DynamoRestaurants {
    #[tracing::instrument(skip(self, restaurant), fields(restaurant = %restaurant.id))]
    async fn create(&self, restaurant: &Restaurant) -> Result<(), RestaurantsError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(restaurant_item(restaurant)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if put_refused(&e) => {
                Err(RestaurantsError::AlreadyExists(restaurant.id.clone()))
            }
            Err(e) => Err(backend_error("dynamodb:PutItem", e).into()),
        }
    }

    #[tracing::instrument(skip(self))]
    async fn get(&self, id: &RestaurantId) -> Result<Restaurant, RestaurantsError> {
        let item = self
            .get_item(pk(id), META.to_owned())
            .await?
            .ok_or_else(|| RestaurantsError::NotFound(id.clone()))?;
        restaurant_from(&item).map_err(bad("dynamodb:GetItem"))
    }

    #[tracing::instrument(skip(self, member), fields(user = %member.user))]
    async fn put_member(
        &self,
        restaurant: &RestaurantId,
        member: &Member,
    ) -> Result<(), RestaurantsError> {
        self.require(restaurant).await?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(member_item(restaurant, member)))
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:PutItem", e))?;
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    async fn remove_member(
        &self,
        restaurant: &RestaurantId,
        user: &OwnerId,
    ) -> Result<bool, RestaurantsError> {
        self.require(restaurant).await?;
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk(restaurant), member_sk(user))))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:DeleteItem", e))?;
        Ok(output.attributes.is_some_and(|old| !old.is_empty()))
    }

    #[tracing::instrument(skip(self))]
    async fn members(&self, restaurant: &RestaurantId) -> Result<Vec<Member>, RestaurantsError> {
        // One query reads the members and the META item, which says the restaurant exists.
        let (from, to) = members_and_meta_range();
        let items = self
            .query_partition(
                restaurant,
                "#sk BETWEEN :from AND :to",
                vec![(":from", s(from)), (":to", s(to))],
            )
            .await?;
        if !items.iter().any(|item| item.get(SK) == Some(&s(META))) {
            return Err(RestaurantsError::NotFound(restaurant.clone()));
        }
        items
            .iter()
            .filter(|item| is_member(item))
            .map(|item| {
                member_from(item)
                    .map(|(_, member)| member)
                    .map_err(bad("dynamodb:Query"))
            })
            .collect()
    }

    #[tracing::instrument(skip(self))]
    async fn membership(
        &self,
        restaurant: &RestaurantId,
        user: &OwnerId,
    ) -> Result<Option<MemberRole>, RestaurantsError> {
        let Some(item) = self.get_item(pk(restaurant), member_sk(user)).await? else {
            return Ok(None);
        };
        let (_, member) = member_from(&item).map_err(bad("dynamodb:GetItem"))?;
        Ok(Some(member.role))
    }

    #[tracing::instrument(skip(self))]
    async fn restaurants_of(
        &self,
        user: &OwnerId,
    ) -> Result<Vec<(Restaurant, MemberRole)>, RestaurantsError> {
        let mut memberships = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_USER_INDEX)
                .key_condition_expression("#user = :user")
                .expression_attribute_names("#user", USER)
                .expression_attribute_values(":user", s(user.as_str()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| backend_error("dynamodb:Query", e))?;
            for item in output.items.unwrap_or_default() {
                let (restaurant, member) = member_from(&item).map_err(bad("dynamodb:Query"))?;
                memberships.push((restaurant, member.role));
            }
            match output.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => break,
            }
        }
        let ids: Vec<RestaurantId> = memberships.iter().map(|(id, _)| id.clone()).collect();
        let mut restaurants = self.restaurants_by_id(&ids).await?;
        let mut listed: Vec<(Restaurant, MemberRole)> = memberships
            .into_iter()
            .filter_map(|(id, role)| restaurants.remove(&id).map(|r| (r, role)))
            .collect();
        listed.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        Ok(listed)
    }

    #[tracing::instrument(skip(self), fields(slot = %slot))]
    async fn slot(&self, slot: &SlotRef) -> Result<SlotState, RestaurantsError> {
        match self
            .get_item(pk(&slot.restaurant), slot_sk(slot.slot))
            .await?
        {
            Some(item) => slot_state_from(slot, &item).map_err(bad("dynamodb:GetItem")),
            None => Ok(SlotState::empty(slot.clone())),
        }
    }

    #[tracing::instrument(skip(self))]
    async fn slots(&self, restaurant: &RestaurantId) -> Result<Vec<SlotState>, RestaurantsError> {
        let items = self
            .query_partition(
                restaurant,
                "begins_with(#sk, :prefix)",
                vec![(":prefix", s(slot_prefix()))],
            )
            .await?;
        let mut states = items
            .iter()
            .map(|item| {
                let slot = slot_of(restaurant, item)?;
                slot_state_from(&slot, item)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad("dynamodb:Query"))?;
        // Sort keys order `gallery-10` before `gallery-2`; slots order by position.
        states.sort_by(|a, b| a.slot.cmp(&b.slot));
        Ok(states)
    }

    #[tracing::instrument(skip(self, image), fields(slot = %slot, upload_id = %image.upload))]
    async fn offer(
        &self,
        slot: &SlotRef,
        image: &SlotImage,
    ) -> Result<OfferOutcome, RestaurantsError> {
        let recorded = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item::history_item(slot, image)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match recorded {
            // A retry of this offer: the history holds the image already.
            Err(e) if put_refused(&e) => {}
            Err(e) => return Err(backend_error("dynamodb:PutItem", e).into()),
            Ok(_) => {}
        }

        let mut write = SlotWrite::replacing_live(slot, image, image.decided_at);
        write.sets.push(format!("#{CAUSE} = :cause"));
        write.values.push((":cause".to_owned(), s(CAUSE_PUBLISHED)));
        write.removes.push(format!("#{CAUSE_MODERATOR}"));
        write
            .values
            .push((":upload".to_owned(), s(image.upload.to_string())));
        // Exactly `SlotState::offer`: not live already, and no later decision live.
        write.condition = format!(
            "(attribute_not_exists(#{live}) OR #{live} <> :upload) AND \
             (attribute_not_exists(#{CHANGED_AT}) OR #{CHANGED_AT} <= :changed_at)",
            live = LIVE.upload
        );
        match self.write_slot(slot, write).await? {
            Written::Done(item) => slot_state_from(slot, &item)
                .map(OfferOutcome::BecameLive)
                .map_err(bad("dynamodb:UpdateItem")),
            Written::Refused(item) => {
                let current = self.current(slot, item).await?;
                if current.live.as_ref().map(|live| live.upload) == Some(image.upload) {
                    Ok(OfferOutcome::AlreadyLive(current))
                } else {
                    Ok(OfferOutcome::Superseded(current))
                }
            }
        }
    }

    #[tracing::instrument(skip(self), fields(slot = %slot))]
    async fn history(&self, slot: &SlotRef) -> Result<Vec<SlotImage>, RestaurantsError> {
        let items = self
            .query_partition(
                &slot.restaurant,
                "begins_with(#sk, :prefix)",
                vec![(":prefix", s(history_prefix(slot.slot)))],
            )
            .await?;
        let mut images = items
            .iter()
            .map(history_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad("dynamodb:Query"))?;
        // Newest decision first; of two decided in the same millisecond, the later upload.
        images.sort_by(|a, b| (b.decided_at, b.upload).cmp(&(a.decided_at, a.upload)));
        Ok(images)
    }

    #[tracing::instrument(skip(self, rollback), fields(slot = %rollback.slot, to = %rollback.to))]
    async fn roll_back(&self, rollback: &Rollback) -> Result<SlotState, RestaurantsError> {
        let slot = &rollback.slot;
        let not_in_history = || RestaurantsError::NotInHistory {
            slot: slot.clone(),
            upload: rollback.to,
        };
        let item = self
            .get_item(pk(&slot.restaurant), history_sk(slot.slot, &rollback.to))
            .await?
            .ok_or_else(not_in_history)?;
        let image = history_from(&item).map_err(bad("dynamodb:GetItem"))?;

        let mut write = SlotWrite::replacing_live(slot, &image, rollback.at);
        write.sets.push(format!("#{CAUSE} = :cause"));
        write.sets.push(format!("#{CAUSE_MODERATOR} = :moderator"));
        write
            .values
            .push((":cause".to_owned(), s(CAUSE_ROLLED_BACK)));
        write
            .values
            .push((":moderator".to_owned(), s(rollback.moderator.as_str())));
        // A slot item exists from its first change on, with revision 1 or more: revision 0
        // is a slot never written.
        write.condition = if rollback.expected_revision == 0 {
            format!("attribute_not_exists(#{REVISION})")
        } else {
            write
                .values
                .push((":expected".to_owned(), n(rollback.expected_revision)));
            format!("#{REVISION} = :expected")
        };
        match self.write_slot(slot, write).await? {
            Written::Done(item) => slot_state_from(slot, &item).map_err(bad("dynamodb:UpdateItem")),
            Written::Refused(item) => Err(RestaurantsError::SlotMoved {
                expected: rollback.expected_revision,
                current: Box::new(self.current(slot, item).await?),
            }),
        }
    }
}
