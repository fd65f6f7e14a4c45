//! Owner emails through SES on moto: the core's `EmailNotifier` over `DynamoRestaurants`,
//! `DynamoNotifications` and `SesMailer`, each outcome event handled three times (twice one
//! after the other, once more racing itself), and the messages read back from moto's sent
//! store (`GET /moto-api/data.json`, `ses` → `Message`): one per opted-in member and
//! transition, none for an approval, a member who did not opt in, or one who opted out.
//! Escalations likewise: one per level to each moderator subscribed, none to one who
//! cancelled, with a link to the console's queue.

use std::sync::Arc;

use serde_json::Value;
use vetted_aws::bootstrap::{ensure_notifications_table, ensure_restaurants_table};
use vetted_aws::dynamo::{DynamoNotifications, DynamoRestaurants};
use vetted_aws::ses::{SesMailer, ensure_identity};
use vetted_core::events::{EVENT_VERSION, EventType, UploadEvent};
use vetted_core::notify::{
    EmailAddress, EmailNotifier, EscalationSubscriber, PageLinks, Preference,
};
use vetted_core::ports::{Notifications, Restaurants};
use vetted_core::record::DeclineReason;
use vetted_core::restaurant::{Member, MemberRole, Restaurant};
use vetted_core::{
    Clock, CorrelationId, ModeratorId, OwnerId, ReasonCode, RestaurantId, Slot, Status,
    SystemClock, UploadId,
};

use crate::support::{context, unique_prefix};

const SENDER: &str = "Vetted <vetted@notify.example>";

fn event(restaurant: &RestaurantId, event_type: EventType, status: Status) -> UploadEvent {
    let upload_id = UploadId::generate();
    UploadEvent {
        id: format!("{upload_id}.{}", event_type.as_str()),
        event_type,
        version: EVENT_VERSION,
        time: SystemClock.now(),
        upload_id,
        restaurant: restaurant.clone(),
        slot: Slot::Logo,
        owner: Some(OwnerId::parse("owner-a").unwrap()),
        status,
        url: None,
        previous_upload_id: None,
        previous_url: None,
        revision: None,
        reason: None,
        detected_type: None,
        width: None,
        height: None,
        bytes: None,
        decline_reason: None,
        moderator: None,
        first_approver: None,
        correlation_id: Some(CorrelationId::of_upload(&upload_id)),
        escalation_level: None,
    }
}

/// Every message moto's SES has accepted (from every test sharing the emulator).
async fn sent_messages(endpoint: &str) -> Vec<Value> {
    vetted_contract::emulator::moto_ses_messages(endpoint).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ses_email_per_member_and_transition_however_often_the_event_comes() {
    let Some(endpoint) = vetted_tests::aws_endpoint() else {
        return;
    };
    let ctx = context(&endpoint).await;
    let prefix = unique_prefix("email");
    let (restaurants_table, notifications_table) = (
        format!("{prefix}-restaurants"),
        format!("{prefix}-notifications"),
    );
    ensure_restaurants_table(&ctx, &restaurants_table)
        .await
        .unwrap();
    ensure_notifications_table(&ctx, &notifications_table)
        .await
        .unwrap();
    ensure_identity(&ctx.sesv2(), "vetted@notify.example")
        .await
        .unwrap();
    let restaurants = Arc::new(DynamoRestaurants::new(ctx.dynamodb(), &restaurants_table));
    let notifications = Arc::new(DynamoNotifications::new(
        ctx.dynamodb(),
        &notifications_table,
    ));
    let now = SystemClock.now();
    let restaurant = RestaurantId::parse(&prefix).unwrap();
    restaurants
        .create(&Restaurant {
            id: restaurant.clone(),
            name: "Anna's <Bistro> & Bar".into(),
            created_at: now,
        })
        .await
        .unwrap();
    // a and b opt in, c never does, d opted in and out again.
    let address = |user: &str| format!("{user}.{prefix}@owners.example");
    for (user, role, enabled) in [
        ("owner-a", MemberRole::Owner, Some(true)),
        ("staff-b", MemberRole::Staff, Some(true)),
        ("staff-c", MemberRole::Staff, None),
        ("staff-d", MemberRole::Staff, Some(false)),
    ] {
        let id = OwnerId::parse(user).unwrap();
        restaurants
            .put_member(
                &restaurant,
                &Member {
                    user: id.clone(),
                    role,
                    added_at: now,
                },
            )
            .await
            .unwrap();
        if let Some(enabled) = enabled {
            let preference = Preference {
                enabled,
                address: enabled.then(|| EmailAddress::parse(&address(user)).unwrap()),
                updated_at: now,
            };
            notifications
                .set_preference(&id, &preference)
                .await
                .unwrap();
        }
    }
    let notifier = EmailNotifier {
        restaurants,
        notifications,
        mailer: Arc::new(SesMailer::new(ctx.sesv2(), SENDER)),
        clock: Arc::new(SystemClock),
        links: PageLinks::new("https://vetted.example").unwrap(),
    };

    let mut rejected = event(&restaurant, EventType::UploadRejected, Status::Rejected);
    rejected.reason = Some(ReasonCode::TypeMismatch);
    let mut declined = event(&restaurant, EventType::ReviewDeclined, Status::Declined);
    declined.decline_reason = Some(DeclineReason::Copyright);
    let mut published = event(&restaurant, EventType::UploadPublished, Status::Published);
    published.url = Some("https://cdn.example/published/x.png".into());
    let mut expired = event(&restaurant, EventType::UploadExpired, Status::Expired);
    expired.reason = Some(ReasonCode::ReviewTimedOut);
    let mut failed = event(&restaurant, EventType::UploadFailed, Status::Failed);
    failed.reason = Some(ReasonCode::ProcessingFailed);
    let approved = event(&restaurant, EventType::ReviewApproved, Status::Approved);
    let outcomes = [&rejected, &declined, &published, &expired, &failed];
    for e in outcomes.iter().copied().chain([&approved]) {
        let first = notifier.handle(e).await.unwrap();
        let again = notifier.handle(e).await.unwrap();
        let (third, fourth) = tokio::join!(notifier.handle(e), notifier.handle(e));
        let sent = first.sent + again.sent + third.unwrap().sent + fourth.unwrap().sent;
        let expected = if e.event_type == EventType::ReviewApproved {
            0
        } else {
            2
        };
        assert_eq!(sent, expected, "{}: emails sent over four deliveries", e.id);
        assert_eq!(again.sent, 0, "{}: a redelivery sends nothing", e.id);
    }

    let ours: Vec<Value> = sent_messages(&endpoint)
        .await
        .into_iter()
        .filter(|m| {
            m["destinations"]["ToAddresses"]
                .to_string()
                .contains(&prefix)
        })
        .collect();
    assert_eq!(
        ours.len(),
        outcomes.len() * 2,
        "one message per opted-in member and transition: {ours:#?}"
    );
    for user in ["owner-a", "staff-b"] {
        let to = address(user);
        let theirs: Vec<&Value> = ours
            .iter()
            .filter(|m| m["destinations"]["ToAddresses"] == serde_json::json!([to]))
            .collect();
        assert_eq!(theirs.len(), outcomes.len(), "{user}: {theirs:#?}");
        for m in &theirs {
            assert_eq!(m["source"], SENDER);
        }
        let subjects: Vec<&str> = theirs
            .iter()
            .map(|m| m["subject"].as_str().unwrap())
            .collect();
        for wanted in [
            "your new logo was not accepted",
            "your new logo was declined",
            "your new logo is live",
            "your new logo expired",
            "your new logo could not be processed",
        ] {
            assert_eq!(
                subjects.iter().filter(|s| s.ends_with(wanted)).count(),
                1,
                "{user}: one {wanted:?} in {subjects:?}"
            );
            assert!(
                subjects
                    .iter()
                    .all(|s| s.starts_with("Anna's <Bistro> & Bar: "))
            );
        }
        // moto keeps the HTML part: the decline reason in words, escaped name, the link.
        let declined_body = theirs
            .iter()
            .find(|m| m["subject"].as_str().unwrap().ends_with("was declined"))
            .unwrap()["body"]
            .as_str()
            .unwrap();
        assert!(
            declined_body.contains("The image appears to belong to someone else."),
            "{declined_body}"
        );
        assert!(
            declined_body.contains("Anna&#39;s &lt;Bistro&gt; &amp; Bar"),
            "{declined_body}"
        );
        assert!(
            declined_body.contains(&format!(
                "href=\"https://vetted.example/?restaurant={restaurant}\""
            )),
            "{declined_body}"
        );
    }
    for user in ["staff-c", "staff-d"] {
        assert!(
            !ours
                .iter()
                .any(|m| m["destinations"].to_string().contains(user)),
            "{user} did not opt in, or opted out"
        );
    }

    // Escalations: ada subscribed, bo subscribed and cancelled.
    let (ada, bo) = (
        ModeratorId::parse(&format!("mod-ada-{prefix}")).unwrap(),
        ModeratorId::parse(&format!("mod-bo-{prefix}")).unwrap(),
    );
    for moderator in [&ada, &bo] {
        notifier
            .notifications
            .subscribe_escalations(&EscalationSubscriber {
                moderator: moderator.clone(),
                address: EmailAddress::parse(&address(moderator.as_str())).unwrap(),
                since: now,
            })
            .await
            .unwrap();
    }
    notifier
        .notifications
        .unsubscribe_escalations(&bo)
        .await
        .unwrap();
    let mut level_1 = event(&restaurant, EventType::ReviewEscalated, Status::InReview);
    level_1.escalation_level = Some(1);
    let mut level_2 = level_1.clone();
    level_2.escalation_level = Some(2);
    level_2.status = Status::AwaitingSecond;
    for e in [&level_1, &level_2] {
        let first = notifier.handle(e).await.unwrap();
        let again = notifier.handle(e).await.unwrap();
        assert_eq!(
            (first.sent, again.sent),
            (1, 0),
            "level {:?}",
            e.escalation_level
        );
    }
    let escalations: Vec<Value> = sent_messages(&endpoint)
        .await
        .into_iter()
        .filter(|m| {
            let to = m["destinations"]["ToAddresses"].to_string();
            to.contains(&prefix) && to.contains("mod-")
        })
        .collect();
    assert_eq!(escalations.len(), 2, "{escalations:#?}");
    for m in &escalations {
        assert_eq!(
            m["destinations"]["ToAddresses"],
            serde_json::json!([address(ada.as_str())])
        );
    }
    let second = escalations
        .iter()
        .find(|m| m["subject"].as_str().unwrap().ends_with("(level 2)"))
        .unwrap()["body"]
        .as_str()
        .unwrap();
    assert!(
        second.contains("href=\"https://vetted.example/moderate.html?queue=second\""),
        "{second}"
    );
}
