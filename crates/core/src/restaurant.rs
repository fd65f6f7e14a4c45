//! Restaurants, their members and their image slots: who may ask for a change, and to what.
//!
//! Every upload is a change request against one [`SlotRef`]: a restaurant's `logo`, its
//! `cover`, or one numbered position of its gallery (`gallery-3`). Each slot holds at most one
//! live image. A gallery is its positions in order, so a gallery image is replaced, rolled
//! back or removed exactly as a logo is. Ids here end up inside object keys, so they are
//! parsed once, strictly, and displayed in one spelling.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::{ModeratorId, ObjectKey, OwnerId, UploadId};
use crate::image_type::ImageType;
use crate::time::Timestamp;

/// The most gallery positions any settings file may ask for.
pub const MAX_GALLERY_POSITIONS: u8 = 50;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SlotIdError {
    #[error(
        "restaurant id {0:?} must be 1 to 64 characters of a-z, 0-9 and '-', starting with a letter or digit"
    )]
    Restaurant(String),
    #[error(
        "slot {0:?} is not one of logo, cover or gallery-N (N from 1 to {MAX_GALLERY_POSITIONS})"
    )]
    Slot(String),
    #[error("slot kind {0:?} is not one of logo, cover or gallery")]
    Kind(String),
}

/// A restaurant's id: lowercase, short, and safe as an object-key segment.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RestaurantId(String);

impl RestaurantId {
    pub fn parse(raw: &str) -> Result<Self, SlotIdError> {
        let mut bytes = raw.bytes();
        let first_ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if first_ok && rest_ok && raw.len() <= 64 {
            Ok(Self(raw.to_owned()))
        } else {
            Err(SlotIdError::Restaurant(raw.to_owned()))
        }
    }

    /// The restaurant that upload records from before restaurants existed read back as. No
    /// restaurant may be created with it, so that none seems to be their target.
    pub const LEGACY: &'static str = "legacy";

    /// Whether this id is [`Self::LEGACY`], which no restaurant may take.
    pub fn is_reserved(&self) -> bool {
        self.0 == Self::LEGACY
    }

    /// A fresh id, for a restaurant created without one.
    pub fn generate() -> Self {
        Self(format!("r-{}", uuid::Uuid::now_v7().simple()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RestaurantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RestaurantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RestaurantId({})", self.0)
    }
}

impl TryFrom<String> for RestaurantId {
    type Error = SlotIdError;
    fn try_from(raw: String) -> Result<Self, SlotIdError> {
        Self::parse(&raw)
    }
}

impl From<RestaurantId> for String {
    fn from(id: RestaurantId) -> String {
        id.0
    }
}

/// What a slot is for; each kind has its own policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotKind {
    Logo,
    Cover,
    Gallery,
}

impl SlotKind {
    pub const ALL: [SlotKind; 3] = [SlotKind::Logo, SlotKind::Cover, SlotKind::Gallery];

    pub fn as_str(self) -> &'static str {
        match self {
            SlotKind::Logo => "logo",
            SlotKind::Cover => "cover",
            SlotKind::Gallery => "gallery",
        }
    }
}

impl fmt::Display for SlotKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SlotKind {
    type Err = SlotIdError;
    fn from_str(raw: &str) -> Result<Self, SlotIdError> {
        SlotKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw)
            .ok_or_else(|| SlotIdError::Kind(raw.to_owned()))
    }
}

/// One slot of a restaurant: `logo`, `cover` or `gallery-N`. Holds at most one live image.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Slot {
    Logo,
    Cover,
    /// A gallery position, from 1.
    Gallery(u8),
}

impl Slot {
    pub fn kind(self) -> SlotKind {
        match self {
            Slot::Logo => SlotKind::Logo,
            Slot::Cover => SlotKind::Cover,
            Slot::Gallery(_) => SlotKind::Gallery,
        }
    }

    /// Accepts exactly the spelling [`Display`](fmt::Display) writes, so one slot has one key.
    pub fn parse(raw: &str) -> Result<Self, SlotIdError> {
        let bad = || SlotIdError::Slot(raw.to_owned());
        match raw {
            "logo" => Ok(Slot::Logo),
            "cover" => Ok(Slot::Cover),
            _ => {
                let digits = raw.strip_prefix("gallery-").ok_or_else(bad)?;
                if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                let position: u8 = digits.parse().map_err(|_| bad())?;
                if (1..=MAX_GALLERY_POSITIONS).contains(&position) {
                    Ok(Slot::Gallery(position))
                } else {
                    Err(bad())
                }
            }
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Slot::Logo => f.write_str("logo"),
            Slot::Cover => f.write_str("cover"),
            Slot::Gallery(n) => write!(f, "gallery-{n}"),
        }
    }
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Slot({self})")
    }
}

impl TryFrom<String> for Slot {
    type Error = SlotIdError;
    fn try_from(raw: String) -> Result<Self, SlotIdError> {
        Self::parse(&raw)
    }
}

impl From<Slot> for String {
    fn from(slot: Slot) -> String {
        slot.to_string()
    }
}

/// The slot an upload asks to change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SlotRef {
    pub restaurant: RestaurantId,
    pub slot: Slot,
}

impl SlotRef {
    pub fn new(restaurant: RestaurantId, slot: Slot) -> Self {
        Self { restaurant, slot }
    }
}

impl FromStr for SlotRef {
    type Err = SlotIdError;
    /// `restaurant/slot`, as [`Display`](fmt::Display) writes it: `trattoria-roma/logo`.
    fn from_str(raw: &str) -> Result<Self, SlotIdError> {
        let (restaurant, slot) = raw
            .split_once('/')
            .ok_or_else(|| SlotIdError::Slot(raw.to_owned()))?;
        Ok(Self::new(
            RestaurantId::parse(restaurant)?,
            Slot::parse(slot)?,
        ))
    }
}

impl fmt::Display for SlotRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.restaurant, self.slot)
    }
}

/// A restaurant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restaurant {
    pub id: RestaurantId,
    /// Shown to people; never part of a key.
    pub name: String,
    pub created_at: Timestamp,
}

impl Restaurant {
    pub const MAX_NAME_CHARS: usize = 120;

    /// Checks a display name: 1 to 120 characters, no control characters.
    pub fn check_name(name: &str) -> Result<String, String> {
        let trimmed = name.trim();
        if trimmed.is_empty() {
            return Err("the name is empty".to_owned());
        }
        if trimmed.chars().count() > Self::MAX_NAME_CHARS {
            return Err(format!(
                "the name is longer than {} characters",
                Self::MAX_NAME_CHARS
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err("the name contains a control character".to_owned());
        }
        Ok(trimmed.to_owned())
    }
}

/// What a member may do. Owners manage members and upload; staff only upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    Owner,
    Staff,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Owner => "owner",
            MemberRole::Staff => "staff",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [MemberRole::Owner, MemberRole::Staff]
            .into_iter()
            .find(|role| role.as_str() == raw)
    }
}

/// One user's membership of one restaurant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user: OwnerId,
    pub role: MemberRole,
    pub added_at: Timestamp,
}

/// A published image as a slot holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotImage {
    pub upload: UploadId,
    /// The published object: `published/{restaurant}/{slot}/{upload}`.
    pub key: ObjectKey,
    pub image_type: ImageType,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    /// When the moderator approved it. Of two images published to one slot, the one decided
    /// later is the one that stays live, whichever publish finishes first.
    pub decided_at: Timestamp,
    pub published_at: Timestamp,
}

/// Why a slot's live image changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SlotChangeCause {
    /// An approved upload was published.
    Published,
    /// A moderator put an earlier image back.
    RolledBack { moderator: ModeratorId },
    /// An owner of the restaurant took a gallery image down; the slot shows nothing.
    Removed { owner: OwnerId },
}

/// A slot as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotState {
    pub slot: SlotRef,
    /// The image served now; `None` before the first publish, and after a removal.
    pub live: Option<SlotImage>,
    /// The image `live` replaced, if any.
    pub previous: Option<UploadId>,
    /// Counts the changes of `live`, from 1 for the first; 0 for a slot never set. Events and
    /// rollbacks use it to name one change.
    pub revision: u64,
    /// The instant that orders changes: the decision time of a published image, the time of a
    /// rollback. A publish decided before it does not replace `live`.
    pub changed_at: Option<Timestamp>,
    pub cause: Option<SlotChangeCause>,
}

impl SlotState {
    /// A slot nothing was ever published to.
    pub fn empty(slot: SlotRef) -> Self {
        Self {
            slot,
            live: None,
            previous: None,
            revision: 0,
            changed_at: None,
            cause: None,
        }
    }

    /// What [`Restaurants::offer`](crate::ports::Restaurants::offer) does to this state: the
    /// reference semantics adapters implement as one conditional write.
    pub fn offer(&self, image: &SlotImage) -> OfferOutcome {
        if self.live.as_ref().map(|live| live.upload) == Some(image.upload) {
            return OfferOutcome::AlreadyLive(self.clone());
        }
        if self.changed_at.is_some_and(|at| at > image.decided_at) {
            return OfferOutcome::Superseded(self.clone());
        }
        OfferOutcome::BecameLive(SlotState {
            slot: self.slot.clone(),
            live: Some(image.clone()),
            previous: self.live.as_ref().map(|live| live.upload),
            revision: self.revision + 1,
            changed_at: Some(image.decided_at),
            cause: Some(SlotChangeCause::Published),
        })
    }
}

impl SlotState {
    /// What a rollback to `image` (from this slot's history) makes of this state.
    pub fn rolled_back_to(&self, image: &SlotImage, moderator: ModeratorId, at: Timestamp) -> Self {
        SlotState {
            slot: self.slot.clone(),
            live: Some(image.clone()),
            previous: self.live.as_ref().map(|live| live.upload),
            revision: self.revision + 1,
            changed_at: Some(at),
            cause: Some(SlotChangeCause::RolledBack { moderator }),
        }
    }
}

impl SlotState {
    /// What removing the live image makes of this state: the slot shows nothing, the removed
    /// image stays in the history (a rollback can bring it back), and a publish decided before
    /// `at` no longer goes live.
    pub fn removed_by(&self, owner: OwnerId, at: Timestamp) -> Self {
        SlotState {
            slot: self.slot.clone(),
            live: None,
            previous: self.live.as_ref().map(|live| live.upload),
            revision: self.revision + 1,
            changed_at: Some(at),
            cause: Some(SlotChangeCause::Removed { owner }),
        }
    }
}

/// What offering a published image to its slot did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferOutcome {
    /// The image is now live; the state is the new one.
    BecameLive(SlotState),
    /// An earlier attempt of the same publish made it live already; the state as it stands.
    AlreadyLive(SlotState),
    /// A later decision is live; the image stays in the slot's history only.
    Superseded(SlotState),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_have_one_spelling() {
        for (raw, slot) in [
            ("logo", Slot::Logo),
            ("cover", Slot::Cover),
            ("gallery-1", Slot::Gallery(1)),
            ("gallery-50", Slot::Gallery(50)),
        ] {
            assert_eq!(Slot::parse(raw), Ok(slot));
            assert_eq!(slot.to_string(), raw);
        }
        for bad in [
            "",
            "Logo",
            "gallery",
            "gallery-0",
            "gallery-01",
            "gallery-51",
            "gallery-+1",
            "gallery-1 ",
            "../logo",
        ] {
            assert!(Slot::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn restaurant_ids_are_safe_key_segments() {
        for good in ["r1", "trattoria-roma", "42", &"a".repeat(64)] {
            assert!(RestaurantId::parse(good).is_ok(), "{good:?} refused");
        }
        for bad in ["", "-x", "Roma", "a_b", "a/b", "..", "a b", &"a".repeat(65)] {
            assert!(RestaurantId::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(RestaurantId::parse(RestaurantId::generate().as_str()).is_ok());
    }

    fn image(upload: UploadId, decided_ms: i64) -> SlotImage {
        let restaurant = RestaurantId::parse("r1").unwrap();
        SlotImage {
            upload,
            key: ObjectKey::published(&SlotRef::new(restaurant, Slot::Logo), &upload),
            image_type: ImageType::Png,
            width: 600,
            height: 600,
            bytes: 10,
            decided_at: Timestamp::from_unix_millis(decided_ms),
            published_at: Timestamp::from_unix_millis(decided_ms + 5),
        }
    }

    #[test]
    fn the_later_decision_stays_live_whatever_the_publish_order() {
        let slot = SlotRef::new(RestaurantId::parse("r1").unwrap(), Slot::Logo);
        let (early, late) = (UploadId::generate(), UploadId::generate());
        let empty = SlotState::empty(slot);

        let OfferOutcome::BecameLive(after_late) = empty.offer(&image(late, 200)) else {
            panic!("the first publish must go live")
        };
        assert_eq!(after_late.revision, 1);
        assert!(matches!(
            after_late.offer(&image(early, 100)),
            OfferOutcome::Superseded(_)
        ));
        assert!(matches!(
            after_late.offer(&image(late, 200)),
            OfferOutcome::AlreadyLive(_)
        ));

        let OfferOutcome::BecameLive(after_early) = empty.offer(&image(early, 100)) else {
            panic!()
        };
        let OfferOutcome::BecameLive(both) = after_early.offer(&image(late, 200)) else {
            panic!("a later decision replaces an earlier one")
        };
        assert_eq!(both.previous, Some(early));
        assert_eq!(both.revision, 2);
    }
}
