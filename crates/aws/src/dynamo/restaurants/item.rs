//! The restaurants table's items: their keys, and how each reads back as a core type.
//!
//! Every item of a restaurant shares the partition `R#{id}`; the sort key says what it is.
//! Instants are Unix milliseconds and enums their JSON spelling, as in the uploads table. A
//! slot's live image is flattened into `live_*` attributes, so that one `UpdateItem` can
//! compare and replace it; a history item holds the same fields without the prefix.

use aws_sdk_dynamodb::types::AttributeValue;
use vetted_core::restaurant::{
    Member, MemberRole, Restaurant, RestaurantId, Slot, SlotChangeCause, SlotImage, SlotRef,
    SlotState,
};
use vetted_core::{ImageType, ModeratorId, ObjectKey, OwnerId, UploadId};

use crate::dynamo::item::{BadItem, Item, Reader, millis, n, s};

/// The table's partition key: `R#{restaurant}` for every item.
pub(crate) const PK: &str = "pk";
/// The table's sort key: `META`, `M#{user}`, `S#{slot}` or `H#{slot}#{upload}`.
pub(crate) const SK: &str = "sk";
/// On member items only, so that the `by-user` index holds members and nothing else.
pub(crate) const USER: &str = "user";
/// On every item; the `by-user` index sorts a user's memberships by it.
pub(crate) const RESTAURANT: &str = "restaurant";

pub(crate) const META: &str = "META";
const MEMBER_PREFIX: &str = "M#";
const SLOT_PREFIX: &str = "S#";
const HISTORY_PREFIX: &str = "H#";

pub(crate) const ROLE: &str = "role";
pub(crate) const SLOT: &str = "slot";
pub(crate) const REVISION: &str = "revision";
pub(crate) const CHANGED_AT: &str = "changed_at";
pub(crate) const PREVIOUS: &str = "previous";
pub(crate) const CAUSE: &str = "cause";
pub(crate) const CAUSE_MODERATOR: &str = "cause_moderator";
pub(crate) const CAUSE_PUBLISHED: &str = "published";
pub(crate) const CAUSE_ROLLED_BACK: &str = "rolled_back";
pub(crate) const CAUSE_REMOVED: &str = "removed";
/// Who removed the slot's image, on a slot whose cause is `removed`.
pub(crate) const CAUSE_OWNER: &str = "cause_owner";

/// The attribute names of one stored [`SlotImage`].
pub(crate) struct ImageNames {
    pub upload: &'static str,
    pub key: &'static str,
    pub image_type: &'static str,
    pub width: &'static str,
    pub height: &'static str,
    pub bytes: &'static str,
    pub decided_at: &'static str,
    pub published_at: &'static str,
}

impl ImageNames {
    pub(crate) fn all(&self) -> [&'static str; 8] {
        [
            self.upload,
            self.key,
            self.image_type,
            self.width,
            self.height,
            self.bytes,
            self.decided_at,
            self.published_at,
        ]
    }
}

/// A slot item's live image; absent after a removal.
pub(crate) const LIVE: ImageNames = ImageNames {
    upload: "live_upload",
    key: "live_key",
    image_type: "live_type",
    width: "live_width",
    height: "live_height",
    bytes: "live_bytes",
    decided_at: "live_decided_at",
    published_at: "live_published_at",
};

/// A history item's image.
pub(crate) const HISTORY: ImageNames = ImageNames {
    upload: "upload",
    key: "key",
    image_type: "image_type",
    width: "width",
    height: "height",
    bytes: "bytes",
    decided_at: "decided_at",
    published_at: "published_at",
};

pub(crate) fn pk(restaurant: &RestaurantId) -> String {
    format!("R#{restaurant}")
}

pub(crate) fn member_sk(user: &OwnerId) -> String {
    format!("{MEMBER_PREFIX}{user}")
}

pub(crate) fn slot_sk(slot: Slot) -> String {
    format!("{SLOT_PREFIX}{slot}")
}

pub(crate) fn slot_prefix() -> &'static str {
    SLOT_PREFIX
}

/// Every history item of `slot` starts with this; the closing `#` keeps `gallery-1` from
/// matching `gallery-10`.
pub(crate) fn history_prefix(slot: Slot) -> String {
    format!("{HISTORY_PREFIX}{slot}#")
}

pub(crate) fn history_sk(slot: Slot, upload: &UploadId) -> String {
    format!("{}{upload}", history_prefix(slot))
}

/// The first and last sort keys of a range holding every member and the `META` item: `M#…`
/// sorts before `META` because `#` sorts before `E`.
pub(crate) fn members_and_meta_range() -> (&'static str, &'static str) {
    (MEMBER_PREFIX, META)
}

pub(crate) fn key(pk: String, sk: String) -> Item {
    Item::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

pub(crate) fn restaurant_item(restaurant: &Restaurant) -> Item {
    let mut item = key(pk(&restaurant.id), META.to_owned());
    item.extend([
        (RESTAURANT.to_owned(), s(restaurant.id.as_str())),
        ("name".to_owned(), s(&restaurant.name)),
        ("created_at".to_owned(), millis(restaurant.created_at)),
    ]);
    item
}

pub(crate) fn member_item(restaurant: &RestaurantId, member: &Member) -> Item {
    let mut item = key(pk(restaurant), member_sk(&member.user));
    item.extend([
        (RESTAURANT.to_owned(), s(restaurant.as_str())),
        (USER.to_owned(), s(member.user.as_str())),
        (ROLE.to_owned(), s(member.role.as_str())),
        ("added_at".to_owned(), millis(member.added_at)),
    ]);
    item
}

/// The attributes of `image` under `names`, as `(name, value)` pairs.
pub(crate) fn image_attributes(
    names: &ImageNames,
    image: &SlotImage,
) -> [(&'static str, AttributeValue); 8] {
    [
        (names.upload, s(image.upload.to_string())),
        (names.key, s(image.key.as_str())),
        (names.image_type, s(image.image_type.mime())),
        (names.width, n(image.width)),
        (names.height, n(image.height)),
        (names.bytes, n(image.bytes)),
        (names.decided_at, millis(image.decided_at)),
        (names.published_at, millis(image.published_at)),
    ]
}

pub(crate) fn history_item(slot: &SlotRef, image: &SlotImage) -> Item {
    let mut item = key(pk(&slot.restaurant), history_sk(slot.slot, &image.upload));
    item.extend([
        (RESTAURANT.to_owned(), s(slot.restaurant.as_str())),
        (SLOT.to_owned(), s(slot.slot.to_string())),
    ]);
    item.extend(
        image_attributes(&HISTORY, image)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value)),
    );
    item
}

fn reader(item: &Item) -> Reader<'_> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(text)) => text.as_str(),
        _ => "?",
    };
    Reader::new(item, format!("{}/{}", text(PK), text(SK)))
}

pub(crate) fn restaurant_from(item: &Item) -> Result<Restaurant, BadItem> {
    let r = reader(item);
    Ok(Restaurant {
        id: r.required(RESTAURANT, r.parsed(RESTAURANT, RestaurantId::parse)?)?,
        name: r.required("name", r.text("name")?.map(str::to_owned))?,
        created_at: r.required("created_at", r.instant("created_at")?)?,
    })
}

fn role(r: &Reader<'_>) -> Result<MemberRole, BadItem> {
    let text = r.required(ROLE, r.text(ROLE)?)?;
    MemberRole::parse(text).ok_or_else(|| r.bad(ROLE, format!("unknown role {text:?}")))
}

pub(crate) fn member_from(item: &Item) -> Result<(RestaurantId, Member), BadItem> {
    let r = reader(item);
    let restaurant = r.required(RESTAURANT, r.parsed(RESTAURANT, RestaurantId::parse)?)?;
    let member = Member {
        user: r.required(USER, r.parsed(USER, OwnerId::parse)?)?,
        role: role(&r)?,
        added_at: r.required("added_at", r.instant("added_at")?)?,
    };
    Ok((restaurant, member))
}

/// Whether an item is a member (and not the `META` item a members query also reads).
pub(crate) fn is_member(item: &Item) -> bool {
    matches!(item.get(SK), Some(AttributeValue::S(sk)) if sk.starts_with(MEMBER_PREFIX))
}

fn image_from(r: &Reader<'_>, names: &ImageNames) -> Result<Option<SlotImage>, BadItem> {
    let Some(upload) = r.parsed(names.upload, UploadId::parse)? else {
        return Ok(None);
    };
    let key = |text: &str| ObjectKey::parse(text);
    Ok(Some(SlotImage {
        upload,
        key: r.required(names.key, r.parsed(names.key, key)?)?,
        image_type: r.required(
            names.image_type,
            r.parsed(names.image_type, ImageType::from_mime)?,
        )?,
        width: r.required(names.width, r.number(names.width)?)?,
        height: r.required(names.height, r.number(names.height)?)?,
        bytes: r.required(names.bytes, r.number(names.bytes)?)?,
        decided_at: r.required(names.decided_at, r.instant(names.decided_at)?)?,
        published_at: r.required(names.published_at, r.instant(names.published_at)?)?,
    }))
}

pub(crate) fn history_from(item: &Item) -> Result<SlotImage, BadItem> {
    let r = reader(item);
    let image = image_from(&r, &HISTORY)?;
    r.required(HISTORY.upload, image)
}

pub(crate) fn slot_state_from(slot: &SlotRef, item: &Item) -> Result<SlotState, BadItem> {
    let r = reader(item);
    let cause = match r.text(CAUSE)? {
        None => None,
        Some(CAUSE_PUBLISHED) => Some(SlotChangeCause::Published),
        Some(CAUSE_ROLLED_BACK) => Some(SlotChangeCause::RolledBack {
            moderator: r.required(
                CAUSE_MODERATOR,
                r.parsed(CAUSE_MODERATOR, ModeratorId::parse)?,
            )?,
        }),
        Some(CAUSE_REMOVED) => Some(SlotChangeCause::Removed {
            owner: r.required(CAUSE_OWNER, r.parsed(CAUSE_OWNER, OwnerId::parse)?)?,
        }),
        Some(other) => return Err(r.bad(CAUSE, format!("unknown cause {other:?}"))),
    };
    Ok(SlotState {
        slot: slot.clone(),
        live: image_from(&r, &LIVE)?,
        previous: r.parsed(PREVIOUS, UploadId::parse)?,
        revision: r.required(REVISION, r.number(REVISION)?)?,
        changed_at: r.instant(CHANGED_AT)?,
        cause,
    })
}

/// The slot a slot item stands for, from its sort key.
pub(crate) fn slot_of(restaurant: &RestaurantId, item: &Item) -> Result<SlotRef, BadItem> {
    let r = reader(item);
    let slot = r.required(SK, r.text(SK)?)?;
    let slot = slot
        .strip_prefix(SLOT_PREFIX)
        .ok_or_else(|| r.bad(SK, "not a slot item"))?;
    let slot = Slot::parse(slot).map_err(|e| r.bad(SK, e))?;
    Ok(SlotRef::new(restaurant.clone(), slot))
}

#[cfg(test)]
mod tests {
    use vetted_core::Timestamp;

    use super::*;

    fn slot() -> SlotRef {
        "r1/gallery-1".parse().unwrap()
    }

    fn image() -> SlotImage {
        let upload = UploadId::generate();
        SlotImage {
            upload,
            key: ObjectKey::published(&slot(), &upload),
            image_type: ImageType::Webp,
            width: 800,
            height: 600,
            bytes: 12_345,
            decided_at: Timestamp::from_unix_millis(1_700_000_000_000),
            published_at: Timestamp::from_unix_millis(1_700_000_000_500),
        }
    }

    #[test]
    fn a_history_item_reads_back_as_its_image() {
        let image = image();
        let item = history_item(&slot(), &image);
        assert_eq!(history_from(&item).unwrap(), image);
        assert_eq!(
            item.get(SK),
            Some(&s(format!("H#gallery-1#{}", image.upload)))
        );
    }

    #[test]
    fn history_prefixes_of_two_gallery_positions_never_overlap() {
        let upload = UploadId::generate();
        assert!(
            !history_sk(Slot::Gallery(10), &upload).starts_with(&history_prefix(Slot::Gallery(1)))
        );
    }

    #[test]
    fn members_sort_before_the_meta_item_and_after_their_prefix() {
        let (from, to) = members_and_meta_range();
        let user = member_sk(&OwnerId::parse("zzzz").unwrap());
        assert!(from < user.as_str() && user.as_str() < to);
        let lowest = member_sk(&OwnerId::parse("0").unwrap());
        assert!(from < lowest.as_str());
        assert!(slot_sk(Slot::Logo).as_str() > to && history_prefix(Slot::Logo).as_str() < from);
    }

    #[test]
    fn a_slot_item_reads_back_with_its_cause() {
        let image = image();
        let mut item = key(pk(&slot().restaurant), slot_sk(slot().slot));
        item.extend(
            image_attributes(&LIVE, &image)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v)),
        );
        item.insert(REVISION.to_owned(), n(3));
        item.insert(PREVIOUS.to_owned(), AttributeValue::Null(true));
        item.insert(CHANGED_AT.to_owned(), millis(image.decided_at));
        item.insert(CAUSE.to_owned(), s(CAUSE_ROLLED_BACK));
        item.insert(CAUSE_MODERATOR.to_owned(), s("mod-1"));
        let state = slot_state_from(&slot(), &item).unwrap();
        assert_eq!(state.live, Some(image));
        assert_eq!(state.previous, None);
        assert_eq!(state.revision, 3);
        assert_eq!(
            state.cause,
            Some(SlotChangeCause::RolledBack {
                moderator: ModeratorId::parse("mod-1").unwrap()
            })
        );
        assert_eq!(slot_of(&slot().restaurant, &item).unwrap(), slot());
    }
}
