//! `DynamoInvitations`: the invitations port in the restaurants table, two items per
//! invitation, written and deleted together in one `TransactWriteItems`:
//!
//! | `pk` | `sk` | read by |
//! |---|---|---|
//! | `INVITES#{restaurant}` | `{address}` | `list`: a query of the restaurant's partition |
//! | `INVITED#{address}` | `{restaurant}` | `for_address`: a query of the address's partition |
//!
//! Both carry every attribute, so each read is one query. Neither has `user`, so the
//! `by-user` index still holds members only, and no restaurant partition holds them. Reads
//! are strongly consistent.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use vetted_core::notify::EmailAddress;
use vetted_core::ports::{BackendError, Invitation, Invitations, InvitationsError};
use vetted_core::restaurant::{MemberRole, RestaurantId};

use super::item::{BadItem, Item, Reader, millis, s};
use super::query_all;
use super::webhooks::condition_failed;
use crate::errors::backend_error;

const PK: &str = "pk";
const SK: &str = "sk";
const RESTAURANT: &str = "restaurant";
const EMAIL: &str = "email";
const ROLE: &str = "role";
const INVITED_BY: &str = "invited_by";
const INVITED_AT: &str = "invited_at";
const EXPIRES_AT: &str = "expires_at";

/// Invitations in the restaurants table.
#[derive(Debug, Clone)]
pub struct DynamoInvitations {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoInvitations {
    /// `table` is the restaurants table.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn by_restaurant(restaurant: &RestaurantId, email: &EmailAddress) -> Item {
    Item::from([
        (PK.to_owned(), s(format!("INVITES#{restaurant}"))),
        (SK.to_owned(), s(email.as_str())),
    ])
}

fn by_address(restaurant: &RestaurantId, email: &EmailAddress) -> Item {
    Item::from([
        (PK.to_owned(), s(format!("INVITED#{}", email.as_str()))),
        (SK.to_owned(), s(restaurant.as_str())),
    ])
}

fn with_attributes(mut key: Item, i: &Invitation) -> Item {
    key.insert(RESTAURANT.to_owned(), s(i.restaurant.as_str()));
    key.insert(EMAIL.to_owned(), s(i.email.as_str()));
    key.insert(ROLE.to_owned(), s(i.role.as_str()));
    key.insert(INVITED_BY.to_owned(), s(i.invited_by.clone()));
    key.insert(INVITED_AT.to_owned(), millis(i.invited_at));
    key.insert(EXPIRES_AT.to_owned(), millis(i.expires_at));
    key
}

fn invitation_from(item: &Item) -> Result<Invitation, BadItem> {
    let r = Reader::new(item, "invitation");
    Ok(Invitation {
        restaurant: r.required(RESTAURANT, r.parsed(RESTAURANT, RestaurantId::parse)?)?,
        email: r.required(EMAIL, r.parsed(EMAIL, EmailAddress::parse)?)?,
        role: r.required(
            ROLE,
            r.parsed(ROLE, |raw| MemberRole::parse(raw).ok_or("not a role"))?,
        )?,
        invited_by: r.required(INVITED_BY, r.text(INVITED_BY)?)?.to_owned(),
        invited_at: r.required(INVITED_AT, r.instant(INVITED_AT)?)?,
        expires_at: r.required(EXPIRES_AT, r.instant(EXPIRES_AT)?)?,
    })
}

fn bad(operation: &'static str) -> impl Fn(BadItem) -> InvitationsError {
    move |e| InvitationsError::Backend(BackendError::permanent(operation, e))
}

fn built<T, E: std::error::Error + Send + Sync + 'static>(
    result: Result<T, E>,
) -> Result<T, InvitationsError> {
    result.map_err(|e| InvitationsError::Backend(BackendError::permanent("invitations.build", e)))
}

impl DynamoInvitations {
    async fn query(&self, partition: String) -> Result<Vec<Invitation>, InvitationsError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(partition));
        query_all(query)
            .await?
            .iter()
            .map(|item| invitation_from(item).map_err(bad("dynamodb:Query")))
            .collect()
    }
}

#[async_trait]
impl Invitations for DynamoInvitations {
    async fn put(&self, invitation: &Invitation) -> Result<(), InvitationsError> {
        let put = |item: Item| -> Result<TransactWriteItem, InvitationsError> {
            Ok(TransactWriteItem::builder()
                .put(built(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item))
                        .build(),
                )?)
                .build())
        };
        let (r, e) = (&invitation.restaurant, &invitation.email);
        self.client
            .transact_write_items()
            .transact_items(put(with_attributes(by_restaurant(r, e), invitation))?)
            .transact_items(put(with_attributes(by_address(r, e), invitation))?)
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:TransactWriteItems", e))?;
        Ok(())
    }

    async fn list(&self, restaurant: &RestaurantId) -> Result<Vec<Invitation>, InvitationsError> {
        self.query(format!("INVITES#{restaurant}")).await
    }

    async fn for_address(&self, email: &EmailAddress) -> Result<Vec<Invitation>, InvitationsError> {
        self.query(format!("INVITED#{}", email.as_str())).await
    }

    async fn remove(
        &self,
        restaurant: &RestaurantId,
        email: &EmailAddress,
    ) -> Result<bool, InvitationsError> {
        let delete = |key: Item, condition: bool| -> Result<TransactWriteItem, InvitationsError> {
            let mut builder = Delete::builder().table_name(&self.table).set_key(Some(key));
            if condition {
                builder = builder.condition_expression("attribute_exists(pk)");
            }
            Ok(TransactWriteItem::builder()
                .delete(built(builder.build())?)
                .build())
        };
        let removed = self
            .client
            .transact_write_items()
            .transact_items(delete(by_restaurant(restaurant, email), true)?)
            .transact_items(delete(by_address(restaurant, email), false)?)
            .send()
            .await;
        match removed {
            Ok(_) => Ok(true),
            // The condition on the first item failed: there was nothing to remove.
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(InvitationsError::Backend(backend_error(
                "dynamodb:TransactWriteItems",
                e,
            ))),
        }
    }
}
