//! The function as Lambda runs it, on moto: its settings read from the environment, DynamoDB
//! and SES wired in, and an SQS batch handled as the event source mapping hands it over. An
//! outcome delivered twice in one batch and once more in another makes one SES email per
//! opted-in member; a message that is not a Vetted event fails alone. Skipped without
//! `VETTED_TEST_AWS_ENDPOINT`, failed under `VETTED_TEST_REQUIRE_AWS=1`.

// Test code may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use serde_json::{Value, json};
use vetted_aws::bootstrap::{ensure_notifications_table, ensure_restaurants_table};
use vetted_aws::config::AwsContext;
use vetted_aws::dynamo::{DynamoNotifications, DynamoRestaurants};
use vetted_aws::ses::ensure_identity;
use vetted_contract::events::sample_event;
use vetted_core::events::EventType;
use vetted_core::notify::{EmailAddress, Preference};
use vetted_core::ports::{Notifications, Restaurants};
use vetted_core::restaurant::{Member, MemberRole, Restaurant};
use vetted_core::settings::Env;
use vetted_core::{Clock, OwnerId, SystemClock, UploadId};

fn message(id: &str, body: String) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(id.to_owned());
    message.body = Some(body);
    message
}

/// Every message moto's SES has accepted (`/moto-api/data.json`, measured on moto 5.2).
async fn sent_to(endpoint: &str, address: &str) -> Vec<Value> {
    vetted_contract::emulator::moto_ses_messages(endpoint)
        .await
        .into_iter()
        .filter(|m| m["destinations"]["ToAddresses"] == json!([address]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_outcome_makes_one_ses_email_and_a_stray_message_fails_alone() {
    let Some(endpoint) = vetted_contract::emulator::aws_endpoint() else {
        return;
    };
    let ctx = AwsContext::builder()
        .endpoint_url(&endpoint)
        .region("us-east-1")
        .static_credentials("test", "test")
        .load()
        .await;
    let unique = UploadId::generate().to_string().replace('-', "");
    let (restaurants_table, notifications_table) = (
        format!("notify-{unique}-restaurants"),
        format!("notify-{unique}-notifications"),
    );
    ensure_restaurants_table(&ctx, &restaurants_table)
        .await
        .unwrap();
    ensure_notifications_table(&ctx, &notifications_table)
        .await
        .unwrap();
    ensure_identity(&ctx.sesv2(), "vetted@notify-fn.example")
        .await
        .unwrap();

    // The restaurant and member the sample event names, opted in.
    let upload = UploadId::generate();
    let mut event = sample_event(upload, EventType::UploadPublished);
    let now = SystemClock.now();
    let owner = OwnerId::parse("contract-owner").unwrap();
    let address = format!("owner-{unique}@owners.example");
    let restaurants = DynamoRestaurants::new(ctx.dynamodb(), &restaurants_table);
    restaurants
        .create(&Restaurant {
            id: event.restaurant.clone(),
            name: "Trattoria".into(),
            created_at: now,
        })
        .await
        .unwrap();
    restaurants
        .put_member(
            &event.restaurant,
            &Member {
                user: owner.clone(),
                role: MemberRole::Owner,
                added_at: now,
            },
        )
        .await
        .unwrap();
    DynamoNotifications::new(ctx.dynamodb(), &notifications_table)
        .set_preference(
            &owner,
            &Preference {
                enabled: true,
                address: Some(EmailAddress::parse(&address).unwrap()),
                updated_at: now,
            },
        )
        .await
        .unwrap();
    event.time = now;

    // The settings exactly as the template gives them.
    let settings = Env::from_pairs([
        ("VETTED_RESTAURANTS_TABLE", restaurants_table.as_str()),
        ("VETTED_NOTIFICATIONS_TABLE", notifications_table.as_str()),
        ("VETTED_MAIL_FROM", "Vetted <vetted@notify-fn.example>"),
        ("VETTED_OWNER_PAGE_URL", "https://vetted.example"),
    ]);
    let function = Arc::new(notify::function(
        &ctx,
        notify::Config::from_env(&settings).unwrap(),
    ));
    // As the rule puts it on the queue: the EventBridge envelope around the event.
    let envelope = json!({
        "version": "0",
        "id": "eb-1",
        "detail-type": event.event_type.as_str(),
        "source": "vetted",
        "detail": event,
    })
    .to_string();
    let mut batch = SqsEvent::default();
    batch.records = vec![
        message("m-1", envelope.clone()),
        message("m-2", envelope.clone()),
        message("m-3", "not an event".to_owned()),
    ];
    let answer = vetted_lambda::sqs::handle_sqs_batch(function.as_ref(), batch).await;
    let failed: Vec<_> = answer
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m-3"], "only the stray message fails");
    let mut again = SqsEvent::default();
    again.records = vec![message("m-4", envelope)];
    let answer = vetted_lambda::sqs::handle_sqs_batch(function.as_ref(), again).await;
    assert!(answer.batch_item_failures.is_empty());

    let sent = sent_to(&endpoint, &address).await;
    assert_eq!(sent.len(), 1, "one email for three deliveries: {sent:#?}");
    assert_eq!(sent[0]["source"], "Vetted <vetted@notify-fn.example>");
    assert!(
        sent[0]["body"]
            .as_str()
            .unwrap()
            .contains("https://vetted.example"),
        "the link to the owner page: {}",
        sent[0]["body"]
    );
}

#[test]
fn every_setting_is_required_and_the_link_base_is_checked() {
    let all = [
        ("VETTED_RESTAURANTS_TABLE", "r"),
        ("VETTED_NOTIFICATIONS_TABLE", "n"),
        ("VETTED_MAIL_FROM", "v@example.com"),
        ("VETTED_OWNER_PAGE_URL", "https://vetted.example"),
    ];
    notify::Config::from_env(&Env::from_pairs(all)).unwrap();
    for missing in 0..all.len() {
        let some: Vec<_> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != missing)
            .map(|(_, pair)| *pair)
            .collect();
        let error = notify::Config::from_env(&Env::from_pairs(some)).unwrap_err();
        assert!(format!("{error:#}").contains(all[missing].0), "{error:#}");
    }
    let mut bad = all;
    bad[3].1 = "ftp://vetted.example";
    assert!(
        format!(
            "{:#}",
            notify::Config::from_env(&Env::from_pairs(bad)).unwrap_err()
        )
        .contains("VETTED_OWNER_PAGE_URL")
    );
}
