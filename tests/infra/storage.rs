//! The tables and the event bus against what the code reads and writes.

use serde_json::{Value, json};
use vetted_core::events::EventType;

use crate::template::Template;

fn attribute_type<'a>(table: &'a Value, name: &str) -> Option<&'a str> {
    table
        .pointer("/Properties/AttributeDefinitions")?
        .as_array()?
        .iter()
        .find(|a| a.get("AttributeName").and_then(Value::as_str) == Some(name))?
        .get("AttributeType")?
        .as_str()
}

/// The key schema as (attribute, key type, attribute type) triples.
fn keys(table: &Value, schema: &Value) -> Vec<(String, String, String)> {
    schema
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| {
            let name = k
                .get("AttributeName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let key_type = k.get("KeyType").and_then(Value::as_str).unwrap_or_default();
            let attr_type = attribute_type(table, name).unwrap_or("undefined");
            (name.to_owned(), key_type.to_owned(), attr_type.to_owned())
        })
        .collect()
}

fn triple(name: &str, key_type: &str, attr_type: &str) -> (String, String, String) {
    (name.to_owned(), key_type.to_owned(), attr_type.to_owned())
}

/// The layout the DynamoDB adapter (crates/aws) queries: one item per upload, listings by
/// status, by owner and of a restaurant's requests in progress, expiry of intents through
/// `ttl`.
#[test]
fn table_has_the_keys_and_indexes_the_record_store_queries() {
    let template = Template::load();
    let tables = template.resources_of_type("AWS::DynamoDB::Table");
    let ids: Vec<&str> = tables.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        [
            "NotificationsTable",
            "RestaurantsTable",
            "UploadsTable",
            "WebhooksTable"
        ],
        "the tables"
    );
    let (id, table) = (
        "UploadsTable",
        template.resource("UploadsTable").expect("UploadsTable"),
    );
    let props = &table["Properties"];
    assert_eq!(
        props["BillingMode"], "PAY_PER_REQUEST",
        "{id} must bill per request"
    );
    assert_eq!(
        keys(table, &props["KeySchema"]),
        [triple("id", "HASH", "S")],
        "{id} primary key"
    );

    let indexes = props["GlobalSecondaryIndexes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let index = |name: &str| {
        indexes
            .iter()
            .find(|i| i["IndexName"] == name)
            .unwrap_or_else(|| panic!("{id} has no GSI {name}"))
            .clone()
    };
    // The template's indexes are the ones the adapter queries and bootstrap creates.
    assert_eq!(
        indexes.len(),
        vetted_aws::dynamo::INDEXES.len(),
        "{id} has GSIs the adapter does not know"
    );
    let kind = |attribute: &str| {
        vetted_aws::dynamo::KEY_ATTRIBUTES
            .iter()
            .find(|(name, _)| *name == attribute)
            .map(|(_, kind)| *kind)
            .unwrap_or_else(|| panic!("no key attribute {attribute}"))
    };
    for (name, partition, sort) in vetted_aws::dynamo::INDEXES {
        let gsi = index(name);
        assert_eq!(
            keys(table, &gsi["KeySchema"]),
            [
                triple(partition, "HASH", kind(partition)),
                triple(sort, "RANGE", kind(sort))
            ],
            "GSI {name}"
        );
        assert_eq!(
            gsi["Projection"],
            json!({"ProjectionType": "ALL"}),
            "{name} must project ALL"
        );
    }
    assert_eq!(
        props["TimeToLiveSpecification"],
        json!({"AttributeName": "ttl", "Enabled": true}),
        "{id} TTL"
    );
    assert_eq!(
        props["PointInTimeRecoverySpecification"],
        json!({"PointInTimeRecoveryEnabled": true}),
        "{id} point-in-time recovery"
    );
}

/// The restaurants table: the keys and the by-user index `DynamoRestaurants` queries, and
/// the same recovery as the uploads table.
#[test]
fn the_restaurants_table_has_the_keys_and_index_its_adapter_queries() {
    let template = Template::load();
    let table = template
        .resource("RestaurantsTable")
        .expect("RestaurantsTable");
    let props = &table["Properties"];
    assert_eq!(props["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        keys(table, &props["KeySchema"]),
        [triple("pk", "HASH", "S"), triple("sk", "RANGE", "S")],
        "RestaurantsTable primary key"
    );
    let by_user = props["GlobalSecondaryIndexes"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["IndexName"] == "by-user"))
        .expect("RestaurantsTable has a by-user GSI");
    assert_eq!(
        keys(table, &by_user["KeySchema"]),
        [
            triple("user", "HASH", "S"),
            triple("restaurant", "RANGE", "S")
        ],
        "GSI by-user"
    );
    assert_eq!(
        props["PointInTimeRecoverySpecification"],
        json!({"PointInTimeRecoveryEnabled": true}),
        "RestaurantsTable point-in-time recovery"
    );
}

/// The webhooks table: the keys and the sparse `due` index `DynamoWebhooks` queries, taken
/// from the adapter's constants (which bootstrap creates the table from), the same recovery
/// as the other tables, and a policy granting exactly that table and index.
#[test]
fn the_webhooks_table_has_the_keys_and_index_its_adapter_queries() {
    use vetted_aws::dynamo::webhooks::{INDEX, KEY_ATTRIBUTES, TABLE_KEY};

    let template = Template::load();
    let table = template.resource("WebhooksTable").expect("WebhooksTable");
    let props = &table["Properties"];
    assert_eq!(props["BillingMode"], "PAY_PER_REQUEST");
    let kind = |attribute: &str| {
        KEY_ATTRIBUTES
            .iter()
            .find(|(name, _)| *name == attribute)
            .map(|(_, kind)| *kind)
            .unwrap_or_else(|| panic!("no key attribute {attribute}"))
    };
    assert_eq!(
        keys(table, &props["KeySchema"]),
        [
            triple(TABLE_KEY.0, "HASH", kind(TABLE_KEY.0)),
            triple(TABLE_KEY.1, "RANGE", kind(TABLE_KEY.1))
        ],
        "WebhooksTable primary key"
    );
    let indexes = props["GlobalSecondaryIndexes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        indexes.len(),
        1,
        "WebhooksTable has GSIs the adapter does not know"
    );
    let (name, partition, sort) = INDEX;
    let gsi = indexes
        .iter()
        .find(|i| i["IndexName"] == name)
        .unwrap_or_else(|| panic!("WebhooksTable has no GSI {name}"));
    assert_eq!(
        keys(table, &gsi["KeySchema"]),
        [
            triple(partition, "HASH", kind(partition)),
            triple(sort, "RANGE", kind(sort))
        ],
        "GSI {name}"
    );
    assert_eq!(gsi["Projection"], json!({"ProjectionType": "ALL"}));
    assert_eq!(
        props["PointInTimeRecoverySpecification"],
        json!({"PointInTimeRecoveryEnabled": true}),
        "WebhooksTable point-in-time recovery"
    );

    let policy = template
        .resource("WebhooksStorePolicy")
        .expect("WebhooksStorePolicy");
    let statements = policy
        .pointer("/Properties/PolicyDocument/Statement")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let resources: Vec<Value> = statements
        .iter()
        .flat_map(|s| crate::template::one_or_many(s.get("Resource")))
        .collect();
    assert_eq!(
        resources,
        [
            json!({"Fn::GetAtt": ["WebhooksTable", "Arn"]}),
            json!({"Fn::Sub": format!("${{WebhooksTable.Arn}}/index/{name}")})
        ],
        "the policy grants the webhooks table and its index, nothing else"
    );
}

/// The sample rule must match events the code can emit: source `vetted` and detail-types
/// spelt as `EventType::as_str` spells them.
#[test]
fn event_rules_match_event_types_the_code_emits() {
    let template = Template::load();
    let rules = template.resources_of_type("AWS::Events::Rule");
    assert!(
        !rules.is_empty(),
        "the template has no sample EventBridge rule"
    );
    let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    for (id, rule) in rules {
        let pattern = &rule["Properties"]["EventPattern"];
        assert_eq!(
            pattern["source"],
            json!(["vetted"]),
            "{id} must match source vetted"
        );
        let types = pattern["detail-type"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(!types.is_empty(), "{id} matches no detail-type");
        for t in types {
            let t = t.as_str().unwrap_or_default();
            assert!(
                known.contains(&t),
                "{id} matches detail-type {t:?}, which no EventType has; known: {known:?}"
            );
        }
        let bus = &rule["Properties"]["EventBusName"];
        let bus_id = bus.get("Ref").and_then(Value::as_str).unwrap_or_default();
        assert!(
            template.is_type(bus_id, "AWS::Events::EventBus"),
            "{id} must listen on the template's bus, not {bus}"
        );
    }
}

/// The notifications table: the keys its adapter writes (from the adapter's constants, which
/// bootstrap creates the table from), no index, recovery on, and a policy for that table only.
#[test]
fn the_notifications_table_has_the_keys_its_adapter_writes() {
    use vetted_aws::dynamo::notifications::{KEY_ATTRIBUTES, TABLE_KEY};

    let template = Template::load();
    let table = template
        .resource("NotificationsTable")
        .expect("NotificationsTable");
    let props = &table["Properties"];
    assert_eq!(props["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        keys(table, &props["KeySchema"]),
        [
            triple(TABLE_KEY.0, "HASH", KEY_ATTRIBUTES[0].1),
            triple(TABLE_KEY.1, "RANGE", KEY_ATTRIBUTES[1].1)
        ],
        "NotificationsTable primary key"
    );
    assert!(
        props["GlobalSecondaryIndexes"].is_null(),
        "NotificationsTable has GSIs the adapter does not know"
    );
    assert_eq!(
        props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
}
