//! Addresses, links, which events notify, and what the templates say.

use super::template::{escape, render};
use super::*;
use crate::events::EVENT_VERSION;
use crate::reason::ReasonCode;
use crate::record::DeclineReason;
use crate::restaurant::Slot;

fn event(event_type: EventType, status: Status) -> UploadEvent {
    UploadEvent {
        id: "x".into(),
        event_type,
        version: EVENT_VERSION,
        time: Timestamp::from_unix_millis(1_700_000_000_000),
        upload_id: UploadId::parse("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b").unwrap(),
        restaurant: RestaurantId::parse("chez-anna").unwrap(),
        slot: Slot::Gallery(3),
        owner: Some(OwnerId::parse("anna").unwrap()),
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
        correlation_id: None,
        escalation_level: None,
    }
}

#[test]
fn addresses_are_checked_and_kept_out_of_debug() {
    let ok = EmailAddress::parse("anna.b+vetted@example.com").unwrap();
    assert_eq!(ok.as_str(), "anna.b+vetted@example.com");
    assert_eq!(format!("{ok:?}"), "EmailAddress(…@example.com)");
    for bad in [
        "",
        "anna",
        "@example.com",
        "anna@",
        "anna@@example.com",
        "anna@example.com\r\nBcc: x@y.z",
        "Anna <anna@example.com>",
        "an na@example.com",
        "anna@.example.com",
        &format!("{}@example.com", "a".repeat(250)),
    ] {
        assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
    }
    assert!(serde_json::from_str::<EmailAddress>("\"x\\ny@z\"").is_err());
}

#[test]
fn links_go_to_the_owner_page_of_the_restaurant() {
    let links = PageLinks::new("https://vetted.example/app?x=1#top").unwrap();
    let r = RestaurantId::parse("chez-anna").unwrap();
    assert_eq!(
        links.owner_page(&r),
        "https://vetted.example/app/?restaurant=chez-anna"
    );
    assert_eq!(
        PageLinks::new("http://127.0.0.1:8080")
            .unwrap()
            .owner_page(&r),
        "http://127.0.0.1:8080/?restaurant=chez-anna"
    );
    for bad in ["", "/relative", "ftp://x.example", "javascript:alert(1)"] {
        assert!(PageLinks::new(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn only_outcomes_and_escalations_notify_and_approval_waits_for_publication() {
    let notices: Vec<_> = EventType::ALL
        .into_iter()
        .filter_map(|t| {
            let mut e = event(t, Status::Published);
            e.escalation_level = (t == EventType::ReviewEscalated).then_some(2);
            Notice::for_event(&e).map(|n| (t, n))
        })
        .collect();
    assert_eq!(
        notices,
        [
            (EventType::UploadRejected, Notice::Rejected),
            (EventType::ReviewDeclined, Notice::Declined),
            (EventType::UploadPublished, Notice::Published),
            (EventType::UploadExpired, Notice::Expired),
            (EventType::UploadFailed, Notice::Failed),
            (EventType::ReviewEscalated, Notice::Escalated(2)),
        ]
    );
    let sending: Vec<EventType> = notices.iter().map(|(t, _)| *t).collect();
    let mut listed = Notice::EVENT_TYPES.to_vec();
    listed.sort_by_key(|t| t.as_str());
    let mut sending_sorted = sending.clone();
    sending_sorted.sort_by_key(|t| t.as_str());
    assert_eq!(
        listed, sending_sorted,
        "EVENT_TYPES lists exactly what sends"
    );
}

#[test]
fn escalation_links_open_the_console_on_the_queue_the_review_waits_in() {
    let links = PageLinks::new("https://vetted.example/app?x=1").unwrap();
    assert_eq!(
        links.console(Status::InReview),
        "https://vetted.example/app/moderate.html"
    );
    assert_eq!(
        links.console(Status::AwaitingSecond),
        "https://vetted.example/app/moderate.html?queue=second"
    );
}

#[test]
fn an_escalation_email_says_which_level_and_what_the_review_needs() {
    let link = "https://vetted.example/moderate.html";
    let mut waiting = event(EventType::ReviewEscalated, Status::InReview);
    waiting.escalation_level = Some(1);
    let m = render(Notice::Escalated(1), &waiting, "Chez <Anna>", link);
    assert_eq!(
        m.subject,
        "Review waiting: the new gallery image 3 of Chez <Anna> (level 1)"
    );
    assert!(
        m.text.contains("Nobody has decided on it yet"),
        "{}",
        m.text
    );
    assert!(m.text.contains(link));
    assert!(m.text.contains("subscribed to escalations"));
    assert!(!m.text.contains("owner page"), "{}", m.text);
    assert!(m.html.contains("Chez &lt;Anna&gt;"));
    assert!(m.html.contains("Open the moderation console"));

    let mut second = event(EventType::ReviewEscalated, Status::AwaitingSecond);
    second.escalation_level = Some(2);
    let m = render(Notice::Escalated(2), &second, "Chez Anna", link);
    assert!(m.subject.ends_with("(level 2)"));
    assert!(m.text.contains("needs a second moderator"), "{}", m.text);
}

#[test]
fn ledger_tags_keep_outcomes_as_they_were_and_name_escalation_levels() {
    let upload = UploadId::generate();
    let owner = SentKey {
        upload,
        status: Status::Published,
        user: OwnerId::parse("anna").unwrap(),
        escalation_level: None,
    };
    assert_eq!(owner.tag(), "PUBLISHED");
    let ada = ModeratorId::parse("mod-ada").unwrap();
    let escalation = SentKey::escalation(upload, Status::InReview, 2, &ada);
    assert_eq!(escalation.tag(), "ESCALATED_2");
    assert_eq!(escalation.user.as_str(), "mod-ada");
}

#[test]
fn a_decline_says_why_in_words_and_escapes_the_name() {
    let mut declined = event(EventType::ReviewDeclined, Status::Declined);
    declined.decline_reason = Some(DeclineReason::LowQuality);
    let name = "Anna's <b>Bistro</b> & Bar";
    let link = "https://vetted.example/?restaurant=chez-anna&x=\"1\"";
    let m = render(Notice::Declined, &declined, name, link);
    assert_eq!(
        m.subject,
        "Anna's <b>Bistro</b> & Bar: your new gallery image 3 was declined"
    );
    assert!(
        m.text.contains(DeclineReason::LowQuality.describe()),
        "{}",
        m.text
    );
    assert!(m.text.contains(link));
    assert!(!m.text.contains("low_quality"));
    assert!(
        m.html
            .contains("Anna&#39;s &lt;b&gt;Bistro&lt;/b&gt; &amp; Bar"),
        "{}",
        m.html
    );
    assert!(!m.html.contains("<b>Bistro"));
    assert!(m.html.contains(&format!("href=\"{}\"", escape(link))));
    assert!(m.html.contains("The image&#39;s quality is too low"));
    assert!(!m.subject.contains('\n'));
}

#[test]
fn each_outcome_has_its_words() {
    let link = "https://vetted.example/?restaurant=chez-anna";
    let mut rejected = event(EventType::UploadRejected, Status::Rejected);
    rejected.reason = Some(ReasonCode::TypeMismatch);
    let m = render(Notice::Rejected, &rejected, "Chez Anna", link);
    assert!(m.subject.contains("was not accepted"));
    assert!(m.text.contains(ReasonCode::TypeMismatch.describe()));

    let mut published = event(EventType::UploadPublished, Status::Published);
    published.url = Some("https://media.example/p.png".into());
    let m = render(Notice::Published, &published, "Chez Anna", link);
    assert_eq!(m.subject, "Chez Anna: your new gallery image 3 is live");
    assert!(m.text.contains("https://media.example/p.png"));
    assert!(!m.text.contains("Why:"));

    let mut expired = event(EventType::UploadExpired, Status::Expired);
    expired.reason = Some(ReasonCode::ReviewTimedOut);
    let m = render(Notice::Expired, &expired, "Chez Anna", link);
    assert!(m.text.contains(ReasonCode::ReviewTimedOut.describe()));

    let m = render(
        Notice::Failed,
        &event(EventType::UploadFailed, Status::Failed),
        "Chez Anna",
        link,
    );
    assert!(m.subject.contains("could not be processed"));
    assert!(m.text.contains(ReasonCode::ProcessingFailed.describe()));
}

#[test]
fn a_preference_sends_only_when_enabled_with_an_address() {
    let at = Timestamp::from_unix_millis(0);
    let address = Some(EmailAddress::parse("a@b.c").unwrap());
    let on = Preference {
        enabled: true,
        address: address.clone(),
        updated_at: at,
    };
    assert!(on.recipient().is_some());
    let off = Preference {
        enabled: false,
        ..on.clone()
    };
    assert!(off.recipient().is_none());
    let no_address = Preference {
        address: None,
        ..on
    };
    assert!(no_address.recipient().is_none());
}
