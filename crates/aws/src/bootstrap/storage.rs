//! The bucket and its upload notification, the uploads, restaurants, webhooks and notifications
//! tables, and
//! the event bus.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Event, FilterRule,
    FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter, QueueConfiguration,
    S3KeyFilter, VersioningConfiguration,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::error::operation::BuildError;
use vetted_core::ObjectKey;
use vetted_core::ports::BackendError;

use super::BootstrapError;
use crate::config::{AwsContext, DEFAULT_REGION};
use crate::dynamo::{
    HASH_KEY, INDEXES, KEY_ATTRIBUTES, TTL_ATTRIBUTE, notifications, restaurants, webhooks,
};
use crate::errors::{backend_error, unusable_answer};

/// How long to wait for a new table to become usable (moto: at once; AWS: seconds).
const TABLE_READY_POLLS: u32 = 120;
const TABLE_READY_INTERVAL: Duration = Duration::from_millis(500);

fn built<T>(what: &'static str, result: Result<T, BuildError>) -> Result<T, BootstrapError> {
    result.map_err(|e| BackendError::permanent(what, e).into())
}

/// The upload bucket, with versioning on so that intake can name the exact bytes it examined.
pub async fn ensure_bucket(ctx: &AwsContext, bucket: &str) -> Result<(), BootstrapError> {
    let s3 = ctx.s3();
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
            let region = ctx
                .sdk_config()
                .region()
                .map_or(DEFAULT_REGION, |r| r.as_ref());
            // us-east-1 is the one region that refuses to be named as a location constraint.
            let location = (region != DEFAULT_REGION).then(|| {
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build()
            });
            match s3
                .create_bucket()
                .bucket(bucket)
                .set_create_bucket_configuration(location)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if e.code() == Some("BucketAlreadyOwnedByYou") => {}
                Err(e) => return Err(backend_error("s3:CreateBucket", e).into()),
            }
        }
        Err(e) => return Err(backend_error("s3:HeadBucket", e).into()),
    }
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| backend_error("s3:PutBucketVersioning", e))?;
    Ok(())
}

/// Every object created under `incoming/` is announced on the intake queue. S3 sends an
/// `s3:TestEvent` to the queue each time this is configured; intake ignores it.
pub(super) async fn notify_on_upload(
    ctx: &AwsContext,
    bucket: &str,
    queue_arn: &str,
) -> Result<(), BootstrapError> {
    let filter = NotificationConfigurationFilter::builder()
        .key(
            S3KeyFilter::builder()
                .filter_rules(
                    FilterRule::builder()
                        .name(FilterRuleName::Prefix)
                        .value(ObjectKey::INCOMING_PREFIX)
                        .build(),
                )
                .build(),
        )
        .build();
    let queue = built(
        "s3:PutBucketNotificationConfiguration",
        QueueConfiguration::builder()
            .id("vetted-intake")
            .queue_arn(queue_arn)
            .events(Event::S3ObjectCreated)
            .filter(filter)
            .build(),
    )?;
    ctx.s3()
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(queue)
                .build(),
        )
        .send()
        .await
        .map_err(|e| backend_error("s3:PutBucketNotificationConfiguration", e))?;
    Ok(())
}

/// A table's keys and indexes, as `create_table` needs them.
struct TableSpec<'a> {
    hash: &'a str,
    range: Option<&'a str>,
    /// Every key attribute of the table and its indexes, with its type (`S` or `N`).
    attributes: &'a [(&'a str, &'a str)],
    /// Secondary indexes: name, partition attribute, sort attribute.
    indexes: &'a [(&'a str, &'a str, &'a str)],
}

const UPLOADS: TableSpec<'static> = TableSpec {
    hash: HASH_KEY,
    range: None,
    attributes: &KEY_ATTRIBUTES,
    indexes: &INDEXES,
};

const RESTAURANTS: TableSpec<'static> = TableSpec {
    hash: restaurants::TABLE_KEY.0,
    range: Some(restaurants::TABLE_KEY.1),
    attributes: &restaurants::KEY_ATTRIBUTES,
    indexes: &[restaurants::INDEX],
};

const WEBHOOKS: TableSpec<'static> = TableSpec {
    hash: webhooks::TABLE_KEY.0,
    range: Some(webhooks::TABLE_KEY.1),
    attributes: &webhooks::KEY_ATTRIBUTES,
    indexes: &[webhooks::INDEX],
};

const NOTIFICATIONS: TableSpec<'static> = TableSpec {
    hash: notifications::TABLE_KEY.0,
    range: Some(notifications::TABLE_KEY.1),
    attributes: &notifications::KEY_ATTRIBUTES,
    indexes: &[],
};

/// The uploads table: key `id`, the `by-status` and `by-owner` indexes, TTL on `ttl`.
pub async fn ensure_table(ctx: &AwsContext, table: &str) -> Result<(), BootstrapError> {
    let dynamodb = ctx.dynamodb();
    ensure_active(&dynamodb, table, &UPLOADS).await?;

    let ttl = dynamodb
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| backend_error("dynamodb:DescribeTimeToLive", e))?;
    let on = ttl.time_to_live_description.is_some_and(|d| {
        d.attribute_name() == Some(TTL_ATTRIBUTE)
            && matches!(
                d.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            )
    });
    if !on {
        let spec = built(
            "dynamodb:UpdateTimeToLive",
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL_ATTRIBUTE)
                .build(),
        )?;
        dynamodb
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:UpdateTimeToLive", e))?;
    }
    Ok(())
}

/// The restaurants table: keys `pk` and `sk`, the `by-user` index.
pub async fn ensure_restaurants_table(ctx: &AwsContext, table: &str) -> Result<(), BootstrapError> {
    ensure_active(&ctx.dynamodb(), table, &RESTAURANTS).await
}

/// The webhooks table: keys `pk` and `sk`, the sparse `due` index.
pub async fn ensure_webhooks_table(ctx: &AwsContext, table: &str) -> Result<(), BootstrapError> {
    ensure_active(&ctx.dynamodb(), table, &WEBHOOKS).await
}

/// The notifications table (email preferences and the sent ledger): keys `pk` and `sk`.
pub async fn ensure_notifications_table(
    ctx: &AwsContext,
    table: &str,
) -> Result<(), BootstrapError> {
    ensure_active(&ctx.dynamodb(), table, &NOTIFICATIONS).await
}

/// Creates `table` unless it exists (with every index of `spec`), and waits until it is usable.
async fn ensure_active(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    spec: &TableSpec<'static>,
) -> Result<(), BootstrapError> {
    match dynamodb.describe_table().table_name(table).send().await {
        Ok(found) => {
            let present: Vec<&str> = found
                .table
                .as_ref()
                .map(|t| {
                    t.global_secondary_indexes()
                        .iter()
                        .filter_map(|i| i.index_name())
                        .collect()
                })
                .unwrap_or_default();
            if let Some((index, _, _)) = spec.indexes.iter().find(|(i, _, _)| !present.contains(i))
            {
                return Err(BootstrapError::TableMismatch {
                    table: table.to_owned(),
                    index,
                });
            }
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            create_table(dynamodb, table, spec).await?;
        }
        Err(e) => return Err(backend_error("dynamodb:DescribeTable", e).into()),
    }
    wait_until_active(dynamodb, table).await
}

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, BootstrapError> {
    built(
        "dynamodb:CreateTable",
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build(),
    )
}

async fn create_table(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    spec: &TableSpec<'_>,
) -> Result<(), BootstrapError> {
    let mut request = dynamodb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(spec.hash, KeyType::Hash)?);
    if let Some(range) = spec.range {
        request = request.key_schema(key(range, KeyType::Range)?);
    }
    for (name, kind) in spec.attributes {
        let kind = if *kind == "N" {
            ScalarAttributeType::N
        } else {
            ScalarAttributeType::S
        };
        request = request.attribute_definitions(built(
            "dynamodb:CreateTable",
            AttributeDefinition::builder()
                .attribute_name(*name)
                .attribute_type(kind)
                .build(),
        )?);
    }
    for (name, partition, sort) in spec.indexes {
        request = request.global_secondary_indexes(built(
            "dynamodb:CreateTable",
            GlobalSecondaryIndex::builder()
                .index_name(*name)
                .key_schema(key(partition, KeyType::Hash)?)
                .key_schema(key(sort, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build(),
        )?);
    }
    match request.send().await {
        Ok(_) => Ok(()),
        // Created by a concurrent bootstrap since we looked: fine.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(backend_error("dynamodb:CreateTable", e).into()),
    }
}

async fn wait_until_active(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), BootstrapError> {
    for _ in 0..TABLE_READY_POLLS {
        let described = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| backend_error("dynamodb:DescribeTable", e))?;
        let status = described.table.and_then(|t| t.table_status);
        if status == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(TABLE_READY_INTERVAL).await;
    }
    Err(unusable_answer(
        "dynamodb:DescribeTable",
        format!("table {table} never became ACTIVE"),
    )
    .into())
}

/// The bus domain events go to.
pub(super) async fn ensure_event_bus(ctx: &AwsContext, bus: &str) -> Result<(), BootstrapError> {
    match ctx.eventbridge().create_event_bus().name(bus).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ResourceAlreadyExistsException") => Ok(()),
        Err(e) => Err(backend_error("events:CreateEventBus", e).into()),
    }
}

/// A rule on `bus` that sends the Vetted events of `detail_types` to the queue `queue_arn`
/// (the notify queue). On an emulator only: the SAM template makes the rule, and the queue
/// policy that lets EventBridge send, on AWS.
pub(super) async fn route_events(
    ctx: &AwsContext,
    bus: &str,
    rule: &str,
    queue_arn: &str,
    detail_types: &[&str],
) -> Result<(), BootstrapError> {
    let events = ctx.eventbridge();
    let pattern = serde_json::json!({
        "source": [crate::eventbridge::EVENT_SOURCE],
        "detail-type": detail_types,
    });
    events
        .put_rule()
        .event_bus_name(bus)
        .name(rule)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .map_err(|e| backend_error("events:PutRule", e))?;
    let target = built(
        "events:PutTargets",
        aws_sdk_eventbridge::types::Target::builder()
            .id("notify")
            .arn(queue_arn)
            .build(),
    )?;
    events
        .put_targets()
        .event_bus_name(bus)
        .rule(rule)
        .targets(target)
        .send()
        .await
        .map_err(|e| backend_error("events:PutTargets", e))?;
    Ok(())
}
