//! The webhooks table's items: their keys, and how endpoints and deliveries read back.
//!
//! Instants are Unix milliseconds (`N`), event types and statuses their JSON spelling, as in
//! the other tables. Absent optional fields are absent attributes, never empty strings.

use aws_sdk_dynamodb::types::AttributeValue;
use vetted_core::RestaurantId;
use vetted_core::events::EventType;
use vetted_core::webhooks::{
    Delivery, DeliveryId, DeliveryStatus, Endpoint, EndpointId, WebhookSecret,
};

use crate::dynamo::item::{BadItem, Item, Reader, millis, n, s, spelled};

/// The table's partition key.
pub(crate) const PK: &str = "pk";
/// The table's sort key.
pub(crate) const SK: &str = "sk";
/// On pending deliveries only: the `due` index's partition, always [`DUE_VALUE`].
pub(crate) const DUE: &str = "due";
/// The `due` index's sort key: when a pending delivery's next attempt is due.
pub(crate) const NEXT_ATTEMPT_AT: &str = "next_attempt_at";
/// Until when a claim holds a delivery (Unix ms); absent when nobody holds it.
pub(crate) const LEASE_UNTIL: &str = "lease_until";
/// On a pointer item: the delivery's endpoint.
pub(crate) const ENDPOINT: &str = "endpoint";
pub(crate) const STATUS: &str = "status";
pub(crate) const ATTEMPTS: &str = "attempts";
pub(crate) const LAST_RESPONSE: &str = "last_response";
pub(crate) const LAST_ERROR: &str = "last_error";
pub(crate) const UPDATED_AT: &str = "updated_at";

/// The one value of [`DUE`]: every pending delivery shares one index partition.
pub(crate) const DUE_VALUE: &str = "pending";

/// The partition every endpoint lives in, so that `list` is one strongly consistent query.
pub(crate) const ENDPOINTS_PK: &str = "ENDPOINTS";
/// The sort key of a delivery pointer item.
pub(crate) const POINTER_SK: &str = "POINTER";
pub(crate) const DELIVERY_PREFIX: &str = "D#";
const EVENT_PREFIX: &str = "V#";

pub(crate) fn key(partition: String, sort: String) -> Item {
    Item::from([(PK.to_owned(), s(partition)), (SK.to_owned(), s(sort))])
}

pub(crate) fn endpoint_key(id: &EndpointId) -> Item {
    key(ENDPOINTS_PK.to_owned(), id.to_string())
}

/// The partition of an endpoint's deliveries and their (endpoint, event) guards.
pub(crate) fn deliveries_pk(endpoint: &EndpointId) -> String {
    format!("E#{endpoint}")
}

pub(crate) fn delivery_key(endpoint: &EndpointId, id: &DeliveryId) -> Item {
    key(deliveries_pk(endpoint), format!("{DELIVERY_PREFIX}{id}"))
}

/// The guard that makes (endpoint, event id) unique.
pub(crate) fn event_key(endpoint: &EndpointId, event_id: &str) -> Item {
    key(deliveries_pk(endpoint), format!("{EVENT_PREFIX}{event_id}"))
}

/// The pointer from a delivery id to its endpoint, which `record` reads.
pub(crate) fn pointer_key(id: &DeliveryId) -> Item {
    key(format!("{DELIVERY_PREFIX}{id}"), POINTER_SK.to_owned())
}

pub(crate) fn endpoint_item(e: &Endpoint) -> Item {
    let mut item = endpoint_key(&e.id);
    item.extend([
        ("id".to_owned(), s(e.id.to_string())),
        ("url".to_owned(), s(&e.url)),
        (
            "event_types".to_owned(),
            AttributeValue::L(e.event_types.iter().map(spelled).collect()),
        ),
        ("secret".to_owned(), s(e.secret.expose())),
        ("enabled".to_owned(), AttributeValue::Bool(e.enabled)),
        ("created_at".to_owned(), millis(e.created_at)),
        (UPDATED_AT.to_owned(), millis(e.updated_at)),
    ]);
    if let Some(r) = &e.restaurant {
        item.insert("restaurant".to_owned(), s(r.as_str()));
    }
    if let Some(p) = &e.previous_secret {
        item.insert("previous_secret".to_owned(), s(p.expose()));
    }
    if let Some(until) = e.previous_until {
        item.insert("previous_until".to_owned(), millis(until));
    }
    if let Some(reason) = &e.disabled_reason {
        item.insert("disabled_reason".to_owned(), s(reason));
    }
    item
}

fn id_of(item: &Item) -> String {
    match item.get("id") {
        Some(AttributeValue::S(text)) => text.clone(),
        _ => "<no id>".to_owned(),
    }
}

pub(crate) fn endpoint_from(item: &Item) -> Result<Endpoint, BadItem> {
    let r = Reader::new(item, id_of(item));
    let event_types = match item.get("event_types") {
        Some(AttributeValue::L(types)) => types
            .iter()
            .map(|t| match t {
                AttributeValue::S(text) => {
                    serde_json::from_value(serde_json::Value::String(text.clone()))
                        .map_err(|e| r.bad("event_types", e))
                }
                _ => Err(r.bad("event_types", "not a list of strings")),
            })
            .collect::<Result<Vec<EventType>, _>>()?,
        None => return Err(r.bad("event_types", "missing")),
        Some(_) => return Err(r.bad("event_types", "not a list")),
    };
    let enabled = match item.get("enabled") {
        Some(AttributeValue::Bool(b)) => *b,
        _ => return Err(r.bad("enabled", "missing or not a boolean")),
    };
    Ok(Endpoint {
        id: r.required("id", r.parsed("id", EndpointId::parse)?)?,
        url: r.required("url", r.text("url")?)?.to_owned(),
        event_types,
        restaurant: r.parsed("restaurant", RestaurantId::parse)?,
        secret: r.required("secret", r.parsed("secret", WebhookSecret::parse)?)?,
        previous_secret: r.parsed("previous_secret", WebhookSecret::parse)?,
        previous_until: r.instant("previous_until")?,
        enabled,
        disabled_reason: r.text("disabled_reason")?.map(str::to_owned),
        created_at: r.required("created_at", r.instant("created_at")?)?,
        updated_at: r.required(UPDATED_AT, r.instant(UPDATED_AT)?)?,
    })
}

/// The delivery item, with `due` while it is pending (the sparse `due` index holds exactly
/// the pending deliveries) and no lease.
pub(crate) fn delivery_item(d: &Delivery) -> Item {
    let mut item = delivery_key(&d.endpoint, &d.id);
    item.extend([
        ("id".to_owned(), s(d.id.to_string())),
        (ENDPOINT.to_owned(), s(d.endpoint.to_string())),
        ("event_id".to_owned(), s(&d.event_id)),
        ("event_type".to_owned(), spelled(&d.event_type)),
        ("body".to_owned(), s(&d.body)),
        (STATUS.to_owned(), s(d.status.as_str())),
        (ATTEMPTS.to_owned(), n(d.attempts)),
        ("created_at".to_owned(), millis(d.created_at)),
        (UPDATED_AT.to_owned(), millis(d.updated_at)),
    ]);
    if let Some(code) = d.last_response {
        item.insert(LAST_RESPONSE.to_owned(), n(code));
    }
    if let Some(error) = &d.last_error {
        item.insert(LAST_ERROR.to_owned(), s(error));
    }
    if let Some(at) = d.next_attempt_at {
        item.insert(NEXT_ATTEMPT_AT.to_owned(), millis(at));
        if d.status == DeliveryStatus::Pending {
            item.insert(DUE.to_owned(), s(DUE_VALUE));
        }
    }
    item
}

pub(crate) fn delivery_from(item: &Item) -> Result<Delivery, BadItem> {
    let r = Reader::new(item, id_of(item));
    Ok(Delivery {
        id: r.required("id", r.parsed("id", DeliveryId::parse)?)?,
        endpoint: r.required(ENDPOINT, r.parsed(ENDPOINT, EndpointId::parse)?)?,
        event_id: r.required("event_id", r.text("event_id")?)?.to_owned(),
        event_type: r.required("event_type", r.spelled("event_type")?)?,
        body: r.required("body", r.text("body")?)?.to_owned(),
        status: r.required(
            STATUS,
            r.parsed(STATUS, |raw| {
                DeliveryStatus::parse(raw).ok_or_else(|| format!("unknown status {raw:?}"))
            })?,
        )?,
        attempts: r.required(ATTEMPTS, r.number(ATTEMPTS)?)?,
        last_response: r.number(LAST_RESPONSE)?,
        last_error: r.text(LAST_ERROR)?.map(str::to_owned),
        next_attempt_at: r.instant(NEXT_ATTEMPT_AT)?,
        created_at: r.required("created_at", r.instant("created_at")?)?,
        updated_at: r.required(UPDATED_AT, r.instant(UPDATED_AT)?)?,
    })
}

/// The endpoint a pointer item names.
pub(crate) fn pointer_endpoint(item: &Item) -> Result<EndpointId, BadItem> {
    let r = Reader::new(item, "delivery pointer");
    r.required(ENDPOINT, r.parsed(ENDPOINT, EndpointId::parse)?)
}

#[cfg(test)]
mod tests {
    use vetted_core::Timestamp;

    use super::*;

    fn endpoint() -> Endpoint {
        let at = Timestamp::from_unix_millis(1_000);
        Endpoint {
            id: EndpointId::generate(),
            url: "https://hooks.example/x".to_owned(),
            event_types: vec![EventType::SlotCleared],
            restaurant: None,
            secret: WebhookSecret::from_key(&[7; 32]).unwrap(),
            previous_secret: Some(WebhookSecret::from_key(&[8; 32]).unwrap()),
            previous_until: Some(Timestamp::from_unix_millis(2_000)),
            enabled: false,
            disabled_reason: Some("gone".to_owned()),
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn an_endpoint_reads_back_whole_and_an_empty_type_list_stays_a_list() {
        let mut e = endpoint();
        assert_eq!(endpoint_from(&endpoint_item(&e)).unwrap(), e);
        e.event_types.clear();
        let item = endpoint_item(&e);
        assert_eq!(item.get("event_types"), Some(&AttributeValue::L(vec![])));
        assert_eq!(endpoint_from(&item).unwrap(), e);
    }

    #[test]
    fn only_a_pending_delivery_carries_the_due_index_key() {
        let e = endpoint();
        let at = Timestamp::from_unix_millis(5);
        let mut d = Delivery {
            id: DeliveryId::generate(),
            endpoint: e.id,
            event_id: "evt-1".to_owned(),
            event_type: EventType::SlotCleared,
            body: "{}".to_owned(),
            status: DeliveryStatus::Pending,
            attempts: 2,
            last_response: Some(503),
            last_error: Some("busy".to_owned()),
            next_attempt_at: Some(at),
            created_at: at,
            updated_at: at,
        };
        let item = delivery_item(&d);
        assert_eq!(item.get(DUE), Some(&s(DUE_VALUE)));
        assert_eq!(delivery_from(&item).unwrap(), d);
        d.status = DeliveryStatus::Delivered;
        d.next_attempt_at = None;
        let item = delivery_item(&d);
        assert!(!item.contains_key(DUE) && !item.contains_key(NEXT_ATTEMPT_AT));
        assert_eq!(delivery_from(&item).unwrap(), d);
    }
}
