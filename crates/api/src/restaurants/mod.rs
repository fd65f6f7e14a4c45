//! Restaurants, their members and their slots.
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET /api/restaurants` | anyone signed in | the caller's restaurants and role in each |
//! | `POST /api/restaurants` | admins | create a restaurant, optionally naming its owners |
//! | `GET /api/restaurants/{id}` | members, moderators | the restaurant |
//! | `GET /api/restaurants/{id}/members` | its owners, admins | who belongs to it |
//! | `PUT /api/restaurants/{id}/members/{user}` | its owners (staff only), admins | add a member or change a role |
//! | `DELETE /api/restaurants/{id}/members/{user}` | its owners (staff only), admins | remove a member |
//! | `POST /api/restaurants/{id}/invitations` | its owners (staff only), admins | invite an address; it becomes a member when it signs up or in |
//! | `GET /api/restaurants/{id}/invitations` | its owners, admins | the invitations waiting |
//! | `DELETE /api/restaurants/{id}/invitations/{email}` | its owners (staff only), admins | withdraw one |
//! | `GET /api/restaurants/{id}/slots` | members, moderators | every slot: live image, revision, policy |
//! | `GET /api/restaurants/{id}/slots/{slot}/history` | members, moderators | every image published to the slot, newest decision first (including any a later decision superseded) |
//! | `POST /api/restaurants/{id}/slots/{slot}/rollback` | moderators | put an earlier image back |
//! | `POST /api/restaurants/{id}/slots/{slot}/remove` | its owners | take a gallery image down (kept in the history) |
//!
//! A caller who may not see a restaurant gets the same 404 as for one that does not exist, so
//! ids cannot be probed. A member who may see it but not do what they asked gets 403.

pub mod invitations;
mod members;
mod slots;
pub mod views;

use axum::Router;
use axum::routing::{get, post, put};
use vetted_core::restaurant::MemberRole;
use vetted_core::{OwnerId, RestaurantId};

use crate::ApiState;
use crate::auth::{Principal, Role};
use crate::error::ApiError;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/api/restaurants",
            get(members::list_mine).post(members::create),
        )
        .route("/api/restaurants/{id}", get(members::get_one))
        .route("/api/restaurants/{id}/members", get(members::list_members))
        .route(
            "/api/restaurants/{id}/members/{user}",
            put(members::put_member).delete(members::remove_member),
        )
        .route(
            "/api/restaurants/{id}/invitations",
            get(invitations::list).post(invitations::invite),
        )
        .route(
            "/api/restaurants/{id}/invitations/{email}",
            axum::routing::delete(invitations::withdraw),
        )
        .route("/api/restaurants/{id}/slots", get(slots::list_slots))
        .route(
            "/api/restaurants/{id}/slots/{slot}/history",
            get(slots::history),
        )
        .route(
            "/api/restaurants/{id}/slots/{slot}/rollback",
            post(slots::roll_back),
        )
        .route(
            "/api/restaurants/{id}/slots/{slot}/remove",
            post(slots::remove),
        )
}

/// The caller's role in the restaurant, or 404 whether it does not exist or they are not in it.
pub(crate) async fn member_role(
    state: &ApiState,
    restaurant: &RestaurantId,
    user: &OwnerId,
) -> Result<MemberRole, ApiError> {
    state
        .restaurants
        .membership(restaurant, user)
        .await?
        .ok_or_else(ApiError::restaurant_not_found)
}

/// How a caller stands towards one restaurant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Moderators and admins see every restaurant.
    Staff {
        admin: bool,
    },
    Member(MemberRole),
}

/// Parses the id and decides whether the caller may see the restaurant: moderators and admins
/// may see any that exists, owners only theirs. Anyone else: 404.
pub(crate) async fn standing(
    state: &ApiState,
    caller: &Principal,
    raw_id: &str,
) -> Result<(RestaurantId, Standing), ApiError> {
    let id = RestaurantId::parse(raw_id).map_err(|_| ApiError::restaurant_not_found())?;
    if caller.has(Role::Moderator) || caller.has(Role::Admin) {
        state.restaurants.get(&id).await?;
        let admin = caller.has(Role::Admin);
        return Ok((id, Standing::Staff { admin }));
    }
    let user = OwnerId::parse(&caller.subject).map_err(|_| ApiError::restaurant_not_found())?;
    let role = member_role(state, &id, &user).await?;
    Ok((id, Standing::Member(role)))
}
