//! One policy per slot kind, and the sentence that tells an owner which rule an image broke.
//!
//! The settings file keeps its old shape and gains a table per kind:
//!
//! ```toml
//! max_bytes = 10485760      # every kind
//! gallery_positions = 12    # how many gallery slots a restaurant has
//!
//! [logo]                    # only logos
//! min_side = 512
//! min_aspect = "1:1"
//! max_aspect = "4:1"
//! ```
//!
//! A kind's policy is its defaults, then the top-level keys, then its own table; then
//! `VETTED_POLICY_<FIELD>` for every kind and `VETTED_POLICY_<KIND>_<FIELD>` for one.

use serde::Serialize;

use super::{Aspect, MIB, Policy, PolicyError};
use crate::reason::ReasonCode;
use crate::restaurant::{MAX_GALLERY_POSITIONS, Slot, SlotKind};
use crate::settings::Env;

const POSITIONS_KEY: &str = "gallery_positions";
const DEFAULT_GALLERY_POSITIONS: u8 = 12;

/// The policy of each slot kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotPolicies {
    pub logo: Policy,
    pub cover: Policy,
    pub gallery: Policy,
    /// How many gallery slots (`gallery-1` …) a restaurant has.
    pub gallery_positions: u8,
}

fn aspect(text: &str) -> Option<Aspect> {
    Aspect::parse(text).ok()
}

impl Default for SlotPolicies {
    /// - logo: at least 512×512, between 1:1 and 4:1, at most 5 MiB and 4096 px a side;
    /// - cover: at least 480 px a side, 16:9 ± 10 % (1.6:1 to 1.956:1);
    /// - gallery: at least 64 px a side, between 1:4 and 4:1; 12 positions.
    fn default() -> Self {
        let base = Policy::default();
        Self {
            logo: Policy {
                max_bytes: 5 * MIB,
                min_side: 512,
                max_side: 4096,
                max_pixels: 16_777_216,
                min_aspect: aspect("1:1"),
                max_aspect: aspect("4:1"),
                ..base.clone()
            },
            cover: Policy {
                min_side: 480,
                min_aspect: aspect("1.6"),
                max_aspect: aspect("1.956"),
                ..base.clone()
            },
            gallery: Policy {
                min_aspect: aspect("1:4"),
                max_aspect: aspect("4:1"),
                ..base
            },
            gallery_positions: DEFAULT_GALLERY_POSITIONS,
        }
    }
}

impl SlotPolicies {
    /// Every kind under one policy; for tests and tools that need no slot rules.
    pub fn uniform(policy: Policy) -> Self {
        Self {
            logo: policy.clone(),
            cover: policy.clone(),
            gallery: policy,
            gallery_positions: DEFAULT_GALLERY_POSITIONS,
        }
    }

    pub fn for_kind(&self, kind: SlotKind) -> &Policy {
        match kind {
            SlotKind::Logo => &self.logo,
            SlotKind::Cover => &self.cover,
            SlotKind::Gallery => &self.gallery,
        }
    }

    /// Whether restaurants have this slot: every logo and cover, gallery positions up to
    /// `gallery_positions`.
    pub fn has_slot(&self, slot: Slot) -> bool {
        match slot {
            Slot::Gallery(position) => position <= self.gallery_positions,
            Slot::Logo | Slot::Cover => true,
        }
    }

    /// Every slot a restaurant has, in display order.
    pub fn all_slots(&self) -> Vec<Slot> {
        let mut slots = vec![Slot::Logo, Slot::Cover];
        slots.extend((1..=self.gallery_positions).map(Slot::Gallery));
        slots
    }

    /// The defaults overridden by a settings document (see the module docs).
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let document: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| PolicyError::Toml(e.to_string()))?;
        Self::from_table(document)
    }

    /// As [`from_toml`](Self::from_toml), for a table already parsed (a `[policy]` section).
    pub fn from_table(mut document: toml::Table) -> Result<Self, PolicyError> {
        let toml_error = |e: &dyn std::fmt::Display| PolicyError::Toml(e.to_string());
        let mut kind_tables = Vec::new();
        for kind in SlotKind::ALL {
            match document.remove(kind.as_str()) {
                Some(toml::Value::Table(table)) => kind_tables.push((kind, table)),
                Some(_) => {
                    return Err(PolicyError::Invalid(format!(
                        "[{kind}] must be a table of policy settings"
                    )));
                }
                None => kind_tables.push((kind, toml::Table::new())),
            }
        }
        let defaults = Self::default();
        let gallery_positions = match document.remove(POSITIONS_KEY) {
            Some(value) => value
                .as_integer()
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| {
                    PolicyError::Invalid(format!("{POSITIONS_KEY} must be a whole number"))
                })?,
            None => defaults.gallery_positions,
        };
        let mut policies = defaults;
        policies.gallery_positions = gallery_positions;
        for (kind, own) in kind_tables {
            let mut merged =
                toml::Table::try_from(policies.for_kind(kind)).map_err(|e| toml_error(&e))?;
            merged.extend(document.clone());
            merged.extend(own);
            let policy: Policy = merged
                .try_into()
                .map_err(|e| toml_error(&format_args!("[{kind}] {e}")))?;
            *policies.for_kind_mut(kind) = policy;
        }
        policies.validated()
    }

    /// `VETTED_POLICY_<FIELD>` for every kind, then `VETTED_POLICY_<KIND>_<FIELD>` for one, and
    /// `VETTED_POLICY_GALLERY_POSITIONS`.
    pub fn with_env(mut self, env: &Env) -> Result<Self, PolicyError> {
        if let Some(positions) = env.parsed::<u8>("VETTED_POLICY_GALLERY_POSITIONS")? {
            self.gallery_positions = positions;
        }
        for kind in SlotKind::ALL {
            let prefix = format!("{}{}_", super::ENV_PREFIX, kind.as_str().to_uppercase());
            let policy = self.for_kind(kind).clone().with_env(env)?;
            let policy = policy.with_env_prefix(env, &prefix)?;
            *self.for_kind_mut(kind) = policy;
        }
        self.validated()
    }

    /// Whether a `VETTED_POLICY_` field names one kind (`LOGO_MIN_SIDE`) or the gallery size.
    pub(crate) fn is_kind_scoped(field: &str) -> bool {
        SlotKind::ALL
            .iter()
            .any(|kind| field.starts_with(&format!("{}_", kind.as_str().to_uppercase())))
    }

    fn for_kind_mut(&mut self, kind: SlotKind) -> &mut Policy {
        match kind {
            SlotKind::Logo => &mut self.logo,
            SlotKind::Cover => &mut self.cover,
            SlotKind::Gallery => &mut self.gallery,
        }
    }

    fn validated(mut self) -> Result<Self, PolicyError> {
        if !(1..=MAX_GALLERY_POSITIONS).contains(&self.gallery_positions) {
            return Err(PolicyError::Invalid(format!(
                "{POSITIONS_KEY} must be between 1 and {MAX_GALLERY_POSITIONS}"
            )));
        }
        for kind in SlotKind::ALL {
            let policy = self
                .for_kind(kind)
                .clone()
                .validated()
                .map_err(|e| match e {
                    PolicyError::Invalid(why) => PolicyError::Invalid(format!("[{kind}] {why}")),
                    other => other,
                })?;
            *self.for_kind_mut(kind) = policy;
        }
        Ok(self)
    }

    /// The largest object any kind accepts; the gate's read limits are per kind.
    pub fn max_bytes(&self) -> u64 {
        SlotKind::ALL
            .iter()
            .map(|kind| self.for_kind(*kind).max_bytes)
            .max()
            .unwrap_or_default()
    }
}

/// The rule a refusal broke, in words an owner can act on: "logo must be at least 512×512
/// pixels". Codes that are not about the slot's rules get their general description.
pub fn explain_refusal(kind: SlotKind, reason: ReasonCode, policy: &Policy) -> String {
    let types = || {
        policy
            .allowed_types
            .iter()
            .map(|t| t.mime())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match reason {
        ReasonCode::TooSmallDimensions => format!(
            "{kind} must be at least {side}×{side} pixels",
            side = policy.min_side
        ),
        ReasonCode::TooLargeDimensions => format!(
            "{kind} must be at most {side}×{side} pixels and {pixels} pixels in all",
            side = policy.max_side,
            pixels = policy.max_pixels
        ),
        ReasonCode::WrongAspectRatio => match (policy.min_aspect, policy.max_aspect) {
            (Some(min), Some(max)) => {
                format!("{kind} must have an aspect ratio between {min} and {max}")
            }
            (Some(min), None) => format!("{kind} must be at least {min} wide"),
            (None, Some(max)) => format!("{kind} must be at most {max} wide"),
            (None, None) => format!("{kind} has no aspect ratio rule"),
        },
        ReasonCode::TooLarge => format!("{kind} must be at most {} bytes", policy.max_bytes),
        ReasonCode::TooSmall => format!("{kind} must be at least {} bytes", policy.min_bytes),
        ReasonCode::TypeNotAllowed => format!("{kind} must be one of {}", types()),
        other => other.describe().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image_type::ImageType;
    use crate::policy::KnownContent;

    #[test]
    fn defaults_differ_by_kind_and_are_valid() {
        let p = SlotPolicies::default();
        assert_eq!(p.clone().validated().unwrap(), p);
        assert_eq!(p.logo.min_side, 512);
        assert!(p.logo.aspect_allows(512, 512) && p.logo.aspect_allows(2048, 512));
        assert!(!p.logo.aspect_allows(512, 513));
        assert!(p.cover.aspect_allows(1920, 1080) && !p.cover.aspect_allows(1000, 1000));
        assert!(p.gallery.aspect_allows(640, 480));
        assert!(p.has_slot(Slot::Gallery(12)) && !p.has_slot(Slot::Gallery(13)));
        assert_eq!(p.all_slots().len(), 14);
        assert!(p.for_kind(SlotKind::Logo).allows(ImageType::Webp));
    }

    #[test]
    fn the_file_sets_every_kind_then_each_kind_its_own() {
        let p = SlotPolicies::from_toml(
            "max_bytes = 1000\ngallery_positions = 3\n[logo]\nmin_side = 100\nmax_aspect = \"2:1\"\n",
        )
        .unwrap();
        assert_eq!(
            (p.logo.max_bytes, p.cover.max_bytes, p.gallery.max_bytes),
            (1000, 1000, 1000)
        );
        assert_eq!((p.logo.min_side, p.cover.min_side), (100, 480));
        assert_eq!(p.logo.max_aspect, aspect("2:1"));
        assert_eq!(p.gallery_positions, 3);
    }

    #[test]
    fn mistakes_in_the_file_name_the_kind() {
        let err = SlotPolicies::from_toml("[logo]\nmin_sides = 1").unwrap_err();
        assert!(err.to_string().contains("[logo]"), "{err}");
        let err = SlotPolicies::from_toml("[cover]\nmin_aspect = \"3:1\"").unwrap_err();
        assert!(err.to_string().contains("[cover] min_aspect"), "{err}");
        assert!(SlotPolicies::from_toml("gallery_positions = 0").is_err());
        assert!(SlotPolicies::from_toml("logo = 3").is_err());
    }

    #[test]
    fn environment_overrides_all_kinds_or_one() {
        let env = Env::from_pairs([
            ("VETTED_POLICY_MAX_BYTES", "4096"),
            ("VETTED_POLICY_LOGO_MIN_SIDE", "256"),
            ("VETTED_POLICY_GALLERY_POSITIONS", "4"),
        ]);
        let p = SlotPolicies::default().with_env(&env).unwrap();
        assert_eq!((p.logo.max_bytes, p.gallery.max_bytes), (4096, 4096));
        assert_eq!((p.logo.min_side, p.cover.min_side), (256, 480));
        assert_eq!(p.gallery_positions, 4);
        let typo = Env::from_pairs([("VETTED_POLICY_LOGO_MIN_SIDES", "1")]);
        assert!(SlotPolicies::default().with_env(&typo).is_err());
    }

    #[test]
    fn known_content_is_review_unless_a_kind_says_reuse() {
        let p = SlotPolicies::default();
        assert!(
            [&p.logo, &p.cover, &p.gallery]
                .iter()
                .all(|k| k.known_content == KnownContent::Review)
        );
        let p = SlotPolicies::from_toml("[gallery]\nknown_content = \"reuse\"\n").unwrap();
        assert_eq!(
            (p.gallery.known_content, p.logo.known_content),
            (KnownContent::Reuse, KnownContent::Review)
        );
        let env = Env::from_pairs([("VETTED_POLICY_LOGO_KNOWN_CONTENT", "reuse")]);
        let p = SlotPolicies::default().with_env(&env).unwrap();
        assert_eq!(
            (p.logo.known_content, p.gallery.known_content),
            (KnownContent::Reuse, KnownContent::Review)
        );
        for bad in ["Reuse", "skip"] {
            let env = Env::from_pairs([("VETTED_POLICY_KNOWN_CONTENT", bad)]);
            assert!(
                SlotPolicies::default().with_env(&env).is_err(),
                "{bad:?} accepted"
            );
        }
        assert!(SlotPolicies::from_toml("[cover]\nknown_content = \"skip\"\n").is_err());
    }

    #[test]
    fn refusals_name_the_rule() {
        let p = SlotPolicies::default();
        assert_eq!(
            explain_refusal(SlotKind::Logo, ReasonCode::TooSmallDimensions, &p.logo),
            "logo must be at least 512×512 pixels"
        );
        assert_eq!(
            explain_refusal(SlotKind::Logo, ReasonCode::WrongAspectRatio, &p.logo),
            "logo must have an aspect ratio between 1:1 and 4:1"
        );
    }
}
