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
//! Restaurants are deleted only by an operator's purge (`delete_restaurant`: every item of the
//! partition, `META` last). Checking that one exists and then writing a member can race with
//! that: a member written in between is left without its restaurant, found by the next purge.

mod directory;
mod item;
mod slots;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use vetted_core::ports::{BackendError, Removal, Restaurants, RestaurantsError, Rollback};
use vetted_core::restaurant::{
    Member, MemberRole, OfferOutcome, Restaurant, RestaurantId, SlotImage, SlotRef, SlotState,
};
use vetted_core::{OwnerId, UploadId};

use super::item::{BadItem, Item, s};
use super::{get_consistent, put_if_absent, put_refused};
use crate::errors::backend_error;
use item::{
    META, PK, RESTAURANT, SK, USER, history_sk, key, member_from, member_item, member_sk, pk,
    restaurant_from, restaurant_item, slot_sk, slot_state_from,
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

/// Restaurants, members and slots in one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoRestaurants {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn bad(operation: &'static str) -> impl Fn(BadItem) -> RestaurantsError {
    move |e| BackendError::permanent(operation, e).into()
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
        Ok(get_consistent(&self.client, &self.table, key(partition, sort)).await?)
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
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(format!("#pk = :pk AND {sort_condition}"))
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(pk(restaurant)))
            .consistent_read(true);
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        Ok(super::query_all(request).await?)
    }
}

#[async_trait]
impl Restaurants for DynamoRestaurants {
    #[tracing::instrument(skip(self, restaurant), fields(restaurant = %restaurant.id))]
    async fn create(&self, restaurant: &Restaurant) -> Result<(), RestaurantsError> {
        if put_if_absent(&self.client, &self.table, restaurant_item(restaurant), PK).await? {
            Ok(())
        } else {
            Err(RestaurantsError::AlreadyExists(restaurant.id.clone()))
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
        self.list_members(restaurant).await
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
        self.memberships_of(user).await
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
        self.list_slots(restaurant).await
    }

    #[tracing::instrument(skip(self, image), fields(slot = %slot, upload_id = %image.upload))]
    async fn offer(
        &self,
        slot: &SlotRef,
        image: &SlotImage,
    ) -> Result<OfferOutcome, RestaurantsError> {
        self.offer_image(slot, image).await
    }

    #[tracing::instrument(skip(self), fields(slot = %slot))]
    async fn history(&self, slot: &SlotRef) -> Result<Vec<SlotImage>, RestaurantsError> {
        self.list_history(slot).await
    }

    #[tracing::instrument(skip(self, rollback), fields(slot = %rollback.slot, to = %rollback.to))]
    async fn roll_back(&self, rollback: &Rollback) -> Result<SlotState, RestaurantsError> {
        self.roll_back_to(rollback).await
    }

    #[tracing::instrument(skip(self, removal), fields(slot = %removal.slot))]
    async fn remove(&self, removal: &Removal) -> Result<SlotState, RestaurantsError> {
        self.remove_image(removal).await
    }

    /// One `DeleteItem` of the history item, returning the old item to say whether it was
    /// there.
    #[tracing::instrument(skip(self), fields(slot = %slot, upload = %upload))]
    async fn forget_image(
        &self,
        slot: &SlotRef,
        upload: &UploadId,
    ) -> Result<bool, RestaurantsError> {
        self.delete_item(pk(&slot.restaurant), history_sk(slot.slot, upload))
            .await
    }

    /// Every item of the restaurant's partition but `META`, one `DeleteItem` each, then
    /// `META`: an interrupted call leaves the restaurant listed and is finished by the next.
    /// Not one transaction (a partition may hold more than `TransactWriteItems`' 100 items).
    /// A member added while this runs may be left behind, without its restaurant.
    #[tracing::instrument(skip(self), fields(restaurant = %restaurant))]
    async fn delete_restaurant(&self, restaurant: &RestaurantId) -> Result<bool, RestaurantsError> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(pk(restaurant)))
            .projection_expression("#pk, #sk")
            .expression_attribute_names("#sk", SK)
            .consistent_read(true);
        let items = super::query_all(request).await?;
        for item in &items {
            let Some(AttributeValue::S(sort)) = item.get(SK) else {
                continue;
            };
            if sort != META {
                self.delete_item(pk(restaurant), sort.clone()).await?;
            }
        }
        self.delete_item(pk(restaurant), META.to_owned()).await
    }
}

impl DynamoRestaurants {
    /// `DeleteItem` of one item; whether it was there.
    async fn delete_item(&self, partition: String, sort: String) -> Result<bool, RestaurantsError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(partition, sort)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:DeleteItem", e))?;
        Ok(output.attributes.is_some_and(|old| !old.is_empty()))
    }
}
