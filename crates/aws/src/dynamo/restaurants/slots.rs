//! The slot operations: the conditional writes that move a slot's live image (a publish, a
//! rollback, a removal), and the listings of slots and their history.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use vetted_core::Timestamp;
use vetted_core::ports::{Removal, Restaurants, RestaurantsError, Rollback};
use vetted_core::restaurant::{OfferOutcome, RestaurantId, SlotImage, SlotRef, SlotState};

use super::item::{
    self, CAUSE, CAUSE_MODERATOR, CAUSE_OWNER, CAUSE_PUBLISHED, CAUSE_REMOVED, CAUSE_ROLLED_BACK,
    CHANGED_AT, LIVE, PK, PREVIOUS, RESTAURANT, REVISION, SLOT, history_from, history_prefix,
    history_sk, image_attributes, key, pk, slot_of, slot_prefix, slot_sk, slot_state_from,
};
use super::{DynamoRestaurants, bad, put_refused};
use crate::dynamo::item::{Item, millis, n, s};
use crate::dynamo::placeholder_names;
use crate::errors::backend_error;

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
    pub(super) async fn list_slots(
        &self,
        restaurant: &RestaurantId,
    ) -> Result<Vec<SlotState>, RestaurantsError> {
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

    pub(super) async fn offer_image(
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
        write.removes.push(format!("#{CAUSE_OWNER}"));
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

    pub(super) async fn list_history(
        &self,
        slot: &SlotRef,
    ) -> Result<Vec<SlotImage>, RestaurantsError> {
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
        images.sort_by_key(|image| std::cmp::Reverse((image.decided_at, image.upload)));
        Ok(images)
    }

    pub(super) async fn roll_back_to(
        &self,
        rollback: &Rollback,
    ) -> Result<SlotState, RestaurantsError> {
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
        write.removes.push(format!("#{CAUSE_OWNER}"));
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

    pub(super) async fn remove_image(
        &self,
        removal: &Removal,
    ) -> Result<SlotState, RestaurantsError> {
        let slot = &removal.slot;
        // Exactly `SlotState::removed_by`, on an item that shows an image at the expected
        // revision: revision 0 is a slot never written, so it shows nothing.
        let write = SlotWrite {
            sets: vec![
                format!("#{PREVIOUS} = #{}", LIVE.upload),
                format!("#{REVISION} = #{REVISION} + :one"),
                format!("#{CHANGED_AT} = :changed_at"),
                format!("#{CAUSE} = :cause"),
                format!("#{CAUSE_OWNER} = :owner"),
            ],
            removes: LIVE
                .all()
                .into_iter()
                .map(|name| format!("#{name}"))
                .chain([format!("#{CAUSE_MODERATOR}")])
                .collect(),
            values: vec![
                (":one".to_owned(), n(1)),
                (":changed_at".to_owned(), millis(removal.at)),
                (":cause".to_owned(), s(CAUSE_REMOVED)),
                (":owner".to_owned(), s(removal.owner.as_str())),
                (":expected".to_owned(), n(removal.expected_revision)),
            ],
            condition: format!(
                "#{REVISION} = :expected AND attribute_exists(#{})",
                LIVE.upload
            ),
        };
        match self.write_slot(slot, write).await? {
            Written::Done(item) => slot_state_from(slot, &item).map_err(bad("dynamodb:UpdateItem")),
            Written::Refused(item) => {
                let current = self.current(slot, item).await?;
                if current.revision != removal.expected_revision {
                    Err(RestaurantsError::SlotMoved {
                        expected: removal.expected_revision,
                        current: Box::new(current),
                    })
                } else {
                    Err(RestaurantsError::SlotEmpty {
                        current: Box::new(current),
                    })
                }
            }
        }
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
