//! Creating restaurants and managing who belongs to them.
//!
//! Admins create restaurants and may set any member's role. A restaurant's owners add and
//! remove staff, but cannot make, change or remove an owner: that is an admin's call, so that
//! no owner can lock the others out.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use vetted_core::restaurant::{Member, MemberRole, Restaurant};
use vetted_core::{OwnerId, RestaurantId};

use super::views::{
    CreateRestaurantRequest, MemberList, MemberView, PutMemberRequest, RestaurantList,
    RestaurantView,
};
use super::{Standing, standing};
use crate::ApiState;
use crate::auth::{AdminCaller, AnyCaller};
use crate::body::JsonBody;
use crate::error::{ApiError, reasons};

/// The most owners a create request may name.
const MAX_INITIAL_OWNERS: usize = 20;

#[tracing::instrument(skip_all, fields(caller = %caller.0.subject))]
pub(super) async fn list_mine(
    State(state): State<ApiState>,
    caller: AnyCaller,
) -> Result<Json<RestaurantList>, ApiError> {
    let Ok(user) = OwnerId::parse(&caller.0.subject) else {
        return Ok(Json(RestaurantList { items: Vec::new() }));
    };
    let items = state
        .restaurants
        .restaurants_of(&user)
        .await?
        .into_iter()
        .map(|(restaurant, role)| RestaurantView::new(restaurant, Some(role)))
        .collect();
    Ok(Json(RestaurantList { items }))
}

#[tracing::instrument(skip_all, fields(admin = %admin))]
pub(super) async fn create(
    State(state): State<ApiState>,
    AdminCaller(admin): AdminCaller,
    JsonBody(request): JsonBody<CreateRestaurantRequest>,
) -> Result<(StatusCode, Json<RestaurantView>), ApiError> {
    let invalid = |message: String| ApiError::bad_request(reasons::INVALID_REQUEST, message);
    let id = match &request.id {
        Some(raw) => RestaurantId::parse(raw).map_err(|e| invalid(e.to_string()))?,
        None => RestaurantId::generate(),
    };
    if id.is_reserved() {
        return Err(invalid(format!(
            "restaurant id '{id}' is reserved for uploads made before restaurants existed"
        )));
    }
    let name = Restaurant::check_name(&request.name).map_err(invalid)?;
    if request.owners.len() > MAX_INITIAL_OWNERS {
        return Err(invalid(format!(
            "at most {MAX_INITIAL_OWNERS} owners may be named at creation"
        )));
    }
    let owners = request
        .owners
        .iter()
        .map(|raw| OwnerId::parse(raw).map_err(|e| invalid(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let now = state.clock.now();
    let restaurant = Restaurant {
        id,
        name,
        created_at: now,
    };
    state.restaurants.create(&restaurant).await?;
    for user in owners {
        let member = Member {
            user,
            role: MemberRole::Owner,
            added_at: now,
        };
        state
            .restaurants
            .put_member(&restaurant.id, &member)
            .await?;
    }
    tracing::info!(restaurant = %restaurant.id, "restaurant created");
    Ok((
        StatusCode::CREATED,
        Json(RestaurantView::new(restaurant, None)),
    ))
}

pub(super) async fn get_one(
    State(state): State<ApiState>,
    AnyCaller(caller): AnyCaller,
    Path(id): Path<String>,
) -> Result<Json<RestaurantView>, ApiError> {
    let (id, standing) = standing(&state, &caller, &id).await?;
    let restaurant = state.restaurants.get(&id).await?;
    let role = match standing {
        Standing::Member(role) => Some(role),
        Standing::Staff { .. } => None,
    };
    Ok(Json(RestaurantView::new(restaurant, role)))
}

/// Owners of the restaurant and admins manage members; anyone else who can see it gets 403.
fn may_manage(standing: Standing) -> Result<bool, ApiError> {
    match standing {
        Standing::Staff { admin: true } => Ok(true),
        Standing::Member(MemberRole::Owner) => Ok(false),
        _ => Err(ApiError::forbidden(
            "only the restaurant's owners and admins manage its members",
        )),
    }
}

pub(super) async fn list_members(
    State(state): State<ApiState>,
    AnyCaller(caller): AnyCaller,
    Path(id): Path<String>,
) -> Result<Json<MemberList>, ApiError> {
    let (id, standing) = standing(&state, &caller, &id).await?;
    may_manage(standing)?;
    let items = state
        .restaurants
        .members(&id)
        .await?
        .into_iter()
        .map(MemberView::from)
        .collect();
    Ok(Json(MemberList { items }))
}

#[tracing::instrument(skip_all, fields(restaurant = %id, user = %user))]
pub(super) async fn put_member(
    State(state): State<ApiState>,
    AnyCaller(caller): AnyCaller,
    Path((id, user)): Path<(String, String)>,
    JsonBody(request): JsonBody<PutMemberRequest>,
) -> Result<(StatusCode, Json<MemberView>), ApiError> {
    let (id, standing) = standing(&state, &caller, &id).await?;
    let admin = may_manage(standing)?;
    let user = OwnerId::parse(&user)
        .map_err(|e| ApiError::bad_request(reasons::INVALID_REQUEST, e.to_string()))?;
    if !admin {
        owner_may_touch(&state, &id, &user, Some(request.role)).await?;
    }
    let member = Member {
        user,
        role: request.role,
        added_at: state.clock.now(),
    };
    state.restaurants.put_member(&id, &member).await?;
    tracing::info!(role = request.role.as_str(), by = %caller.subject, "member set");
    Ok((StatusCode::OK, Json(MemberView::from(member))))
}

#[tracing::instrument(skip_all, fields(restaurant = %id, user = %user))]
pub(super) async fn remove_member(
    State(state): State<ApiState>,
    AnyCaller(caller): AnyCaller,
    Path((id, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (id, standing) = standing(&state, &caller, &id).await?;
    let admin = may_manage(standing)?;
    let user = OwnerId::parse(&user).map_err(|_| member_not_found())?;
    if !admin {
        owner_may_touch(&state, &id, &user, None).await?;
    }
    if state.restaurants.remove_member(&id, &user).await? {
        tracing::info!(by = %caller.subject, "member removed");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(member_not_found())
    }
}

fn member_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, reasons::NOT_FOUND, "no such member")
}

/// An owner may add staff, and change or remove staff; owners are left to admins.
async fn owner_may_touch(
    state: &ApiState,
    restaurant: &RestaurantId,
    user: &OwnerId,
    new_role: Option<MemberRole>,
) -> Result<(), ApiError> {
    let current = state.restaurants.membership(restaurant, user).await?;
    if new_role == Some(MemberRole::Owner) || current == Some(MemberRole::Owner) {
        return Err(ApiError::forbidden(
            "owners add and remove staff; only an admin changes an owner",
        ));
    }
    if new_role.is_none() && current.is_none() {
        return Err(member_not_found());
    }
    Ok(())
}
