//! Invitations over HTTP: who may invite whom, the refusals, and an invitation becoming a
//! membership when its address signs up or in.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use vetted_api::accounts::AcceptInvitations;
use vetted_api::restaurants::invitations::InvitationAcceptor;
use vetted_core::accounts::AccountEmail;
use vetted_core::ports::{Invitations, Restaurants};
use vetted_core::restaurant::MemberRole;
use vetted_core::{OwnerId, RestaurantId};

use crate::app::{OWNER, RESTAURANT, TestApp, assert_error, spawn_app};
use crate::schemas::assert_matches;

const PATH: &str = "/api/restaurants/r1/invitations";

fn invite(email: &str, role: &str) -> String {
    json!({"email": email, "role": role}).to_string()
}

fn acceptor(app: &TestApp) -> InvitationAcceptor {
    InvitationAcceptor {
        invitations: app.invitations.clone(),
        restaurants: app.restaurants.clone(),
        clock: app.clock.clone(),
    }
}

async fn role_of(app: &TestApp, user: &str) -> Option<MemberRole> {
    app.restaurants
        .membership(
            &RestaurantId::parse(RESTAURANT).unwrap(),
            &OwnerId::parse(user).unwrap(),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn owners_invite_staff_and_admins_invite_owners() {
    let app = spawn_app().await;
    let owner = app.owner(OWNER);
    let (status, body) = app
        .post(&owner, PATH, &invite(" Cook@Example.com ", "staff"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_matches("invitation.json", &body);
    assert_eq!(body["email"], "cook@example.com", "kept as accounts key it");
    assert_eq!(body["role"], "staff");
    assert_eq!(body["invited_by"], OWNER);
    let refused = app
        .post(&owner, PATH, &invite("partner@example.com", "owner"))
        .await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    let (status, _) = app
        .post(
            &app.admin("admin-1"),
            PATH,
            &invite("partner@example.com", "owner"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, list) = app.get(&owner, PATH).await;
    assert_eq!(status, StatusCode::OK);
    assert_matches("invitation-list.json", &list);
    let emails: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["cook@example.com", "partner@example.com"]);

    // An owner withdraws a staff invitation, not an owner's.
    let owners_one = format!("{PATH}/partner@example.com");
    assert_eq!(app.delete(&owner, &owners_one).await, StatusCode::FORBIDDEN);
    assert_eq!(
        app.delete(&owner, &format!("{PATH}/cook@example.com"))
            .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete(&owner, &format!("{PATH}/cook@example.com"))
            .await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&app.admin("admin-1"), &owners_one).await,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn invitations_refuse_strangers_staff_and_bad_bodies() {
    let app = spawn_app().await;
    app.restaurant("r2", "owner-2").await;
    app.join("staff-1").await;
    let body = invite("cook@example.com", "staff");
    // No token, a forged one.
    let anonymous = app
        .http
        .post(app.url(PATH))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_error(
        &app.post("forged.token.here", PATH, &body).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    // Another restaurant's owner, and a restaurant that does not exist: the same 404.
    let stranger = app.post(&app.owner("owner-2"), PATH, &body).await;
    assert_error(&stranger, StatusCode::NOT_FOUND, "not_found");
    let nowhere = app
        .post(
            &app.owner(OWNER),
            "/api/restaurants/nope/invitations",
            &body,
        )
        .await;
    assert_eq!(stranger, nowhere, "a stranger learns nothing");
    let (status, _) = app.get(&app.owner("owner-2"), PATH).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Staff, and a moderator who is not an admin.
    for token in [app.owner("staff-1"), app.moderator("mod-1")] {
        assert_error(
            &app.post(&token, PATH, &body).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
    }
    let owner = app.owner(OWNER);
    let cases = [
        (invite("not an address", "staff"), "invalid_email"),
        (invite("cook@example.com", "chef"), "invalid_request"),
        ("{not json".to_owned(), "invalid_json"),
        (
            json!({"email": "cook@example.com", "role": "staff", "restaurant": "r2"}).to_string(),
            "unknown_field",
        ),
    ];
    for (body, reason) in cases {
        let answer = app.post(&owner, PATH, &body).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, reason);
    }
    let huge = invite(&format!("{}@example.com", "a".repeat(70 * 1024)), "staff");
    assert_error(
        &app.post(&owner, PATH, &huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    assert!(
        app.invitations
            .list(&RestaurantId::parse(RESTAURANT).unwrap())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn an_invitation_becomes_a_membership_once_and_keeps_an_existing_role() {
    let app = spawn_app().await;
    let owner = app.owner(OWNER);
    app.post(&owner, PATH, &invite("cook@example.com", "staff"))
        .await;
    app.post(
        &app.admin("admin-1"),
        PATH,
        &invite("boss@example.com", "owner"),
    )
    .await;
    // The owner is invited as staff: they stay an owner.
    app.post(&owner, PATH, &invite("me@example.com", "staff"))
        .await;
    let accept = acceptor(&app);
    let email = |raw: &str| AccountEmail::parse(raw).unwrap();
    accept.accept(&email("cook@example.com"), "cook-1").await;
    accept.accept(&email("boss@example.com"), "boss-1").await;
    accept.accept(&email("me@example.com"), OWNER).await;
    assert_eq!(role_of(&app, "cook-1").await, Some(MemberRole::Staff));
    assert_eq!(role_of(&app, "boss-1").await, Some(MemberRole::Owner));
    assert_eq!(role_of(&app, OWNER).await, Some(MemberRole::Owner));
    let (_, list) = app.get(&owner, PATH).await;
    assert_eq!(list["items"], json!([]), "accepted invitations are gone");

    // An expired invitation is dropped and makes no member.
    app.post(&owner, PATH, &invite("late@example.com", "staff"))
        .await;
    app.clock.advance(Duration::from_secs(15 * 24 * 3600));
    let (_, list) = app.get(&owner, PATH).await;
    assert_eq!(
        list["items"],
        json!([]),
        "an expired invitation is not listed"
    );
    accept.accept(&email("late@example.com"), "late-1").await;
    assert_eq!(role_of(&app, "late-1").await, None);
    let store: Arc<dyn Invitations> = app.invitations.clone();
    assert!(
        store
            .for_address(email("late@example.com").address())
            .await
            .unwrap()
            .is_empty()
    );
}
