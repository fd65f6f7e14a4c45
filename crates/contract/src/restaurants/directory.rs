//! Restaurants checks: creating and reading restaurants, and who belongs to them.

use std::time::Duration;

use vetted_core::OwnerId;
use vetted_core::ports::{Restaurants, RestaurantsError};
use vetted_core::restaurant::{Member, MemberRole, Restaurant};

use super::{at, create, expect_not_found, fresh_id, fresh_user, id_with_suffix};
use crate::support::{Check, eventually};

/// `restaurants_of` may be served by an index that lags a write (a DynamoDB GSI).
const INDEX_LAG: Duration = Duration::from_secs(5);

fn member(user: &OwnerId, role: MemberRole, added: i64) -> Member {
    Member {
        user: user.clone(),
        role,
        added_at: at(added),
    }
}

async fn put(check: &str, store: &dyn Restaurants, r: &Restaurant, m: &Member) {
    store
        .put_member(&r.id, m)
        .await
        .unwrap_or_else(|e| panic!("{check}: put_member {} in {} failed: {e}", m.user, r.id));
}

async fn role(
    check: &str,
    store: &dyn Restaurants,
    r: &Restaurant,
    user: &OwnerId,
) -> Option<MemberRole> {
    store
        .membership(&r.id, user)
        .await
        .unwrap_or_else(|e| panic!("{check}: membership of {user} in {} failed: {e}", r.id))
}

/// The members of `r`, ordered by user (the port promises no order).
async fn members(check: &str, store: &dyn Restaurants, r: &Restaurant) -> Vec<Member> {
    let mut all = store
        .members(&r.id)
        .await
        .unwrap_or_else(|e| panic!("{check}: members of {} failed: {e}", r.id));
    all.sort_by(|a, b| a.user.cmp(&b.user));
    all
}

fn sorted(mut members: Vec<Member>) -> Vec<Member> {
    members.sort_by(|a, b| a.user.cmp(&b.user));
    members
}

/// Waits until `restaurants_of(user)` is exactly `want`.
async fn restaurants_of_becomes(
    check: &str,
    store: &dyn Restaurants,
    user: &OwnerId,
    want: &[(Restaurant, MemberRole)],
    what: &str,
) {
    eventually(INDEX_LAG, &format!("{check}: {what}"), || async {
        let got = store
            .restaurants_of(user)
            .await
            .map_err(|e| format!("restaurants_of failed: {e}"))?;
        if got == want {
            Ok(())
        } else {
            Err(format!("{got:?}, wanted {want:?}"))
        }
    })
    .await;
}

/// `get` returns what `create` stored, name and all; a second `create` with the same id is
/// `AlreadyExists` and changes nothing; an id never created is `NotFound`.
pub async fn create_then_get_returns_the_restaurant(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::create_then_get_returns_the_restaurant";
    let _check = Check::start(CHECK);
    let first = create(CHECK, store, fresh_id()).await;
    let got = store
        .get(&first.id)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: get after create failed: {e}"));
    assert_eq!(got, first, "{CHECK}: get differs from what was created");

    let second = Restaurant {
        name: "Another name".to_owned(),
        created_at: at(99),
        ..first.clone()
    };
    match store.create(&second).await {
        Err(RestaurantsError::AlreadyExists(id)) => {
            assert_eq!(
                id, first.id,
                "{CHECK}: AlreadyExists names the wrong restaurant"
            )
        }
        other => panic!("{CHECK}: a second create with the same id returned {other:?}"),
    }
    let got = store.get(&first.id).await.expect("get");
    assert_eq!(
        got, first,
        "{CHECK}: the refused second create changed the restaurant"
    );

    let never = fresh_id();
    expect_not_found(CHECK, "get", store.get(&never).await, &never);
}

/// `put_member` adds a member, and putting the same user again changes their role without
/// making a second membership.
pub async fn put_member_adds_and_changes_a_role(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::put_member_adds_and_changes_a_role";
    let _check = Check::start(CHECK);
    let r = create(CHECK, store, fresh_id()).await;
    let (owner, staff) = (fresh_user(), fresh_user());
    assert_eq!(
        members(CHECK, store, &r).await,
        vec![],
        "{CHECK}: a new restaurant has members"
    );
    let owner_member = member(&owner, MemberRole::Owner, 10);
    let staff_member = member(&staff, MemberRole::Staff, 11);
    put(CHECK, store, &r, &owner_member).await;
    put(CHECK, store, &r, &staff_member).await;
    assert_eq!(
        role(CHECK, store, &r, &owner).await,
        Some(MemberRole::Owner),
        "{CHECK}: the owner's membership after put_member"
    );
    assert_eq!(
        role(CHECK, store, &r, &staff).await,
        Some(MemberRole::Staff),
        "{CHECK}: the staff member's membership after put_member"
    );
    assert_eq!(
        members(CHECK, store, &r).await,
        sorted(vec![owner_member.clone(), staff_member.clone()]),
        "{CHECK}: members differ from the members put"
    );

    // Same `added_at`: the contract does not say whether a role change keeps the old one.
    let promoted = member(&staff, MemberRole::Owner, 11);
    put(CHECK, store, &r, &promoted).await;
    assert_eq!(
        role(CHECK, store, &r, &staff).await,
        Some(MemberRole::Owner),
        "{CHECK}: put_member of an existing member did not change their role"
    );
    assert_eq!(
        members(CHECK, store, &r).await,
        sorted(vec![owner_member.clone(), promoted]),
        "{CHECK}: after a role change, members must list the user once, with the new role"
    );
    put(CHECK, store, &r, &staff_member).await;
    assert_eq!(
        role(CHECK, store, &r, &staff).await,
        Some(MemberRole::Staff),
        "{CHECK}: a role could not be changed back"
    );
}

/// `remove_member` is `true` for a member, who is then gone, and `false` for a user who is
/// not (any more) a member; other members stay.
pub async fn remove_member_says_whether_there_was_one(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::remove_member_says_whether_there_was_one";
    let _check = Check::start(CHECK);
    let r = create(CHECK, store, fresh_id()).await;
    let (leaving, staying, stranger) = (fresh_user(), fresh_user(), fresh_user());
    let stays = member(&staying, MemberRole::Owner, 20);
    put(CHECK, store, &r, &member(&leaving, MemberRole::Staff, 21)).await;
    put(CHECK, store, &r, &stays).await;
    let id = &r.id;
    let remove = |user: OwnerId| async move {
        store
            .remove_member(id, &user)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: remove_member {user} failed: {e}"))
    };
    assert!(
        remove(leaving.clone()).await,
        "{CHECK}: removing a member answered false"
    );
    assert_eq!(
        role(CHECK, store, &r, &leaving).await,
        None,
        "{CHECK}: a removed member still has a membership"
    );
    assert_eq!(
        members(CHECK, store, &r).await,
        vec![stays],
        "{CHECK}: after a removal, members must be exactly the others"
    );
    assert!(
        !remove(leaving).await,
        "{CHECK}: removing a member twice answered true the second time"
    );
    assert!(
        !remove(stranger).await,
        "{CHECK}: removing a user who never was a member answered true"
    );
    assert_eq!(
        role(CHECK, store, &r, &staying).await,
        Some(MemberRole::Owner),
        "{CHECK}: removing someone else changed a member's role"
    );
}

/// `membership` is `None`, not an error, both for a user who is not a member and for a
/// restaurant that does not exist.
pub async fn membership_is_none_for_strangers_and_unknown_restaurants(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::membership_is_none_for_strangers_and_unknown_restaurants";
    let _check = Check::start(CHECK);
    let r = create(CHECK, store, fresh_id()).await;
    let (user, stranger) = (fresh_user(), fresh_user());
    put(CHECK, store, &r, &member(&user, MemberRole::Owner, 30)).await;
    assert_eq!(
        role(CHECK, store, &r, &stranger).await,
        None,
        "{CHECK}: a user who is not a member has a membership"
    );
    let unknown = fresh_id();
    match store.membership(&unknown, &user).await {
        Ok(None) => {}
        other => panic!(
            "{CHECK}: membership in a restaurant that does not exist must be Ok(None), got {other:?}"
        ),
    }
}

/// `restaurants_of` lists every restaurant the user belongs to with their role there,
/// ordered by restaurant id whatever the order they joined in, and follows role changes and
/// removals; another user's memberships are not in it.
pub async fn restaurants_of_lists_each_restaurant_with_its_role_in_id_order(
    store: &dyn Restaurants,
) {
    const CHECK: &str =
        "restaurants::restaurants_of_lists_each_restaurant_with_its_role_in_id_order";
    let _check = Check::start(CHECK);
    let token = fresh_id();
    let (user, other) = (fresh_user(), fresh_user());
    // Created and joined in c, a, b order; `d` has the user as nobody.
    let c = create(CHECK, store, id_with_suffix(&token, "c")).await;
    let a = create(CHECK, store, id_with_suffix(&token, "a")).await;
    let b = create(CHECK, store, id_with_suffix(&token, "b")).await;
    let d = create(CHECK, store, id_with_suffix(&token, "d")).await;
    put(CHECK, store, &c, &member(&user, MemberRole::Owner, 40)).await;
    put(CHECK, store, &a, &member(&user, MemberRole::Owner, 41)).await;
    put(CHECK, store, &b, &member(&user, MemberRole::Staff, 42)).await;
    put(CHECK, store, &d, &member(&other, MemberRole::Owner, 43)).await;
    put(CHECK, store, &b, &member(&other, MemberRole::Owner, 44)).await;

    let want = [
        (a.clone(), MemberRole::Owner),
        (b.clone(), MemberRole::Staff),
        (c.clone(), MemberRole::Owner),
    ];
    restaurants_of_becomes(
        CHECK,
        store,
        &user,
        &want,
        "restaurants_of must be the user's three restaurants, ordered by id, with their roles",
    )
    .await;
    restaurants_of_becomes(
        CHECK,
        store,
        &other,
        &[(b.clone(), MemberRole::Owner), (d, MemberRole::Owner)],
        "restaurants_of another member of one of them must list only their own restaurants",
    )
    .await;

    put(CHECK, store, &c, &member(&user, MemberRole::Staff, 40)).await;
    let removed = store
        .remove_member(&b.id, &user)
        .await
        .expect("remove_member");
    assert!(removed, "{CHECK}: removing a member answered false");
    restaurants_of_becomes(
        CHECK,
        store,
        &user,
        &[(a, MemberRole::Owner), (c, MemberRole::Staff)],
        "restaurants_of must follow a role change and a removal",
    )
    .await;
    let nobody = fresh_user();
    let none = store.restaurants_of(&nobody).await.expect("restaurants_of");
    assert!(
        none.is_empty(),
        "{CHECK}: a user who belongs nowhere is listed in {none:?}"
    );
}

/// Adding or removing a member of a restaurant that does not exist is `NotFound` and leaves
/// no trace: the user has no membership there and is in no listing.
pub async fn member_changes_of_an_unknown_restaurant_are_not_found(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::member_changes_of_an_unknown_restaurant_are_not_found";
    let _check = Check::start(CHECK);
    let unknown = fresh_id();
    let user = fresh_user();
    let m = member(&user, MemberRole::Owner, 50);
    expect_not_found(
        CHECK,
        "put_member",
        store.put_member(&unknown, &m).await,
        &unknown,
    );
    expect_not_found(
        CHECK,
        "remove_member",
        store.remove_member(&unknown, &user).await,
        &unknown,
    );
    assert_eq!(
        store.membership(&unknown, &user).await.expect("membership"),
        None,
        "{CHECK}: a refused put_member left a membership"
    );
    let listed = store.restaurants_of(&user).await.expect("restaurants_of");
    assert!(
        listed.is_empty(),
        "{CHECK}: a refused put_member left the user listed in {listed:?}"
    );
    expect_not_found(CHECK, "get", store.get(&unknown).await, &unknown);
}
