//! Reading who belongs where: a restaurant's members, and a user's restaurants through the
//! `by-user` index and a batch read of their `META` items.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::KeysAndAttributes;
use vetted_core::OwnerId;
use vetted_core::ports::{BackendError, RestaurantsError};
use vetted_core::restaurant::{Member, MemberRole, Restaurant, RestaurantId};

use super::item::{
    META, SK, USER, is_member, key, member_from, members_and_meta_range, pk, restaurant_from,
};
use super::{BY_USER_INDEX, DynamoRestaurants, bad};
use crate::dynamo::item::{Item, s};
use crate::errors::{UnusableAnswer, backend_error};

/// `BatchGetItem` takes at most this many keys per call.
const BATCH_GET_LIMIT: usize = 100;
/// Rounds of `UnprocessedKeys` (DynamoDB throttling part of a batch) before giving up.
const BATCH_GET_ROUNDS: u32 = 5;

impl DynamoRestaurants {
    pub(super) async fn list_members(
        &self,
        restaurant: &RestaurantId,
    ) -> Result<Vec<Member>, RestaurantsError> {
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

    pub(super) async fn memberships_of(
        &self,
        user: &OwnerId,
    ) -> Result<Vec<(Restaurant, MemberRole)>, RestaurantsError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_USER_INDEX)
            .key_condition_expression("#user = :user")
            .expression_attribute_names("#user", USER)
            .expression_attribute_values(":user", s(user.as_str()));
        let memberships = crate::dynamo::query_all(query)
            .await?
            .iter()
            .map(|item| {
                member_from(item)
                    .map(|(restaurant, member)| (restaurant, member.role))
                    .map_err(bad("dynamodb:Query"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<RestaurantId> = memberships.iter().map(|(id, _)| id.clone()).collect();
        let mut restaurants = self.restaurants_by_id(&ids).await?;
        let mut listed: Vec<(Restaurant, MemberRole)> = memberships
            .into_iter()
            .filter_map(|(id, role)| restaurants.remove(&id).map(|r| (r, role)))
            .collect();
        listed.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        Ok(listed)
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
}
