//! The `Invitations` contract: one invitation per (restaurant, address), read by restaurant
//! and by address, replaced by a second `put`, and removed once.
//!
//! Every check uses restaurants and addresses of its own, so the suite also runs on a shared
//! table.

use vetted_core::Timestamp;
use vetted_core::notify::EmailAddress;
use vetted_core::ports::{Invitation, Invitations};
use vetted_core::restaurant::{MemberRole, RestaurantId};

use crate::support::unique;

/// Runs every check on `store`, which may be shared.
pub async fn run_all(store: &dyn Invitations) {
    an_invitation_is_read_by_restaurant_and_by_address(store).await;
    a_second_invitation_replaces_the_first(store).await;
    an_invitation_is_removed_once(store).await;
}

fn restaurant() -> RestaurantId {
    RestaurantId::parse(&unique("r")).unwrap_or_else(|e| panic!("{e}"))
}

fn address() -> EmailAddress {
    EmailAddress::parse(&format!("{}@example.com", unique("invitee")))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn invitation(restaurant: &RestaurantId, email: &EmailAddress, role: MemberRole) -> Invitation {
    Invitation {
        restaurant: restaurant.clone(),
        email: email.clone(),
        role,
        invited_by: "owner-1".to_owned(),
        invited_at: Timestamp::from_unix_millis(1_800_000_000_000),
        expires_at: Timestamp::from_unix_millis(1_800_086_400_000),
    }
}

fn ok<T, E: std::fmt::Display>(result: Result<T, E>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what}: {e}"))
}

async fn an_invitation_is_read_by_restaurant_and_by_address(store: &dyn Invitations) {
    let (first, second) = (restaurant(), restaurant());
    let (ana, bob) = (address(), address());
    let to_ana_first = invitation(&first, &ana, MemberRole::Staff);
    let to_ana_second = invitation(&second, &ana, MemberRole::Owner);
    let to_bob_first = invitation(&first, &bob, MemberRole::Staff);
    for i in [&to_ana_first, &to_ana_second, &to_bob_first] {
        ok(store.put(i).await, "put");
    }
    let mut of_first = ok(store.list(&first).await, "list");
    of_first.sort_by(|a, b| a.email.as_str().cmp(b.email.as_str()));
    let mut expected = vec![to_ana_first.clone(), to_bob_first];
    expected.sort_by(|a, b| a.email.as_str().cmp(b.email.as_str()));
    assert_eq!(of_first, expected, "a restaurant's invitations, whole");
    let mut of_ana = ok(store.for_address(&ana).await, "for_address");
    of_ana.sort_by(|a, b| a.restaurant.as_str().cmp(b.restaurant.as_str()));
    let mut expected = vec![to_ana_first, to_ana_second];
    expected.sort_by(|a, b| a.restaurant.as_str().cmp(b.restaurant.as_str()));
    assert_eq!(
        of_ana, expected,
        "an address's invitations, across restaurants"
    );
    assert!(
        ok(store.for_address(&address()).await, "for_address").is_empty(),
        "an address nobody invited has none"
    );
    assert!(ok(store.list(&restaurant()).await, "list").is_empty());
}

async fn a_second_invitation_replaces_the_first(store: &dyn Invitations) {
    let (r, ana) = (restaurant(), address());
    ok(
        store.put(&invitation(&r, &ana, MemberRole::Staff)).await,
        "put",
    );
    let mut again = invitation(&r, &ana, MemberRole::Owner);
    again.invited_by = "admin-1".to_owned();
    again.expires_at = Timestamp::from_unix_millis(1_900_000_000_000);
    ok(store.put(&again).await, "put again");
    assert_eq!(ok(store.list(&r).await, "list"), vec![again.clone()]);
    assert_eq!(
        ok(store.for_address(&ana).await, "for_address"),
        vec![again]
    );
}

async fn an_invitation_is_removed_once(store: &dyn Invitations) {
    let (r, other, ana) = (restaurant(), restaurant(), address());
    ok(
        store.put(&invitation(&r, &ana, MemberRole::Staff)).await,
        "put",
    );
    let kept = invitation(&other, &ana, MemberRole::Staff);
    ok(store.put(&kept).await, "put");
    assert!(ok(store.remove(&r, &ana).await, "remove"), "it was there");
    assert!(
        !ok(store.remove(&r, &ana).await, "remove again"),
        "it is gone"
    );
    assert!(ok(store.list(&r).await, "list").is_empty());
    assert_eq!(
        ok(store.for_address(&ana).await, "for_address"),
        vec![kept],
        "the other restaurant's invitation stays"
    );
}
