//! What an upload must be to pass: types, sizes, dimensions, shape, and how much the gate may
//! read.
//!
//! A [`Policy`] is the rule set of one slot kind; [`SlotPolicies`] holds one per kind, with
//! defaults that suit logos, covers and gallery photos. A TOML file overrides them, then
//! `VETTED_POLICY_*` environment variables override the file; every source is checked, and an
//! error names the setting that is wrong. The caller reads the file and the environment: this
//! module only parses.

mod aspect;
mod extension;
mod slots;

pub use aspect::{Aspect, AspectError};
pub use extension::explain_extension_refusal;
pub use slots::{SlotPolicies, explain_refusal};

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::image_type::ImageType;
use crate::settings::{Env, SettingError};

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * KIB;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// The formats accepted; the sniffed type must be one of these. They also make the
    /// filename extension allowlist ([`Policy::allowed_extensions`]), which is derived from
    /// them rather than set, so that the two cannot disagree.
    pub allowed_types: BTreeSet<ImageType>,
    /// The smallest object accepted, in bytes (at least 1).
    pub min_bytes: u64,
    /// The largest object accepted, in bytes.
    pub max_bytes: u64,
    /// The shortest side accepted, in pixels.
    pub min_side: u32,
    /// The longest side accepted, in pixels.
    pub max_side: u32,
    /// The most pixels (width × height) accepted.
    pub max_pixels: u64,
    /// The narrowest width-to-height ratio accepted (`"1:1"`, `"1.6"`); none by default.
    pub min_aspect: Option<Aspect>,
    /// The widest width-to-height ratio accepted; none by default.
    pub max_aspect: Option<Aspect>,
    /// Refuse an upload whose sniffed type differs from its declared type.
    pub require_type_match: bool,
    /// The most bytes the gate reads from the start of an object.
    pub gate_max_bytes: u64,
    /// How much the first read fetches; more is read, up to `gate_max_bytes`, only when the
    /// gate asks for it.
    pub gate_first_read_bytes: u64,
    /// How many different moderators must approve before an image is published: 1, or 2 for
    /// four-eyes review (`[logo] approvals_required = 2`). One decline is always final.
    pub approvals_required: u8,
    /// What happens to bytes that already have a decision (the same SHA-256): `review` (the
    /// default) puts them before a moderator like any other; `reuse` publishes bytes already
    /// published, and still live, for the same restaurant without review, and declines bytes
    /// declined anywhere with the original reason. Banned bytes are refused either way.
    pub known_content: KnownContent,
}

/// A slot kind's answer to bytes that already have a decision; see [`Policy::known_content`].
///
/// `Review` is the default because reuse lets an image be published with no human looking at
/// it for this upload: an operator turns it on for a kind knowingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnownContent {
    #[default]
    Review,
    Reuse,
}

impl KnownContent {
    pub fn as_str(self) -> &'static str {
        match self {
            KnownContent::Review => "review",
            KnownContent::Reuse => "reuse",
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            allowed_types: ImageType::ALL.into_iter().collect(),
            min_bytes: 1,
            max_bytes: 20 * MIB,
            min_side: 64,
            max_side: 8192,
            max_pixels: 40_000_000,
            min_aspect: None,
            max_aspect: None,
            require_type_match: true,
            gate_max_bytes: 64 * KIB,
            gate_first_read_bytes: 64 * KIB,
            approvals_required: 1,
            known_content: KnownContent::Review,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    #[error("policy file: {0}")]
    Toml(String),
    #[error(transparent)]
    Setting(#[from] SettingError),
    #[error("policy: {0}")]
    Invalid(String),
}

/// The prefix of every environment variable that overrides a policy setting.
pub const ENV_PREFIX: &str = "VETTED_POLICY_";

impl Policy {
    /// The defaults overridden by a TOML document holding any of the fields above.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let policy: Policy = toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))?;
        policy.validated()
    }

    /// Overrides settings from `VETTED_POLICY_<FIELD>` variables, e.g. `VETTED_POLICY_MAX_BYTES`
    /// or `VETTED_POLICY_ALLOWED_TYPES=image/png,image/jpeg`. Other variables are ignored; an
    /// unknown `VETTED_POLICY_*` variable is an error, because a typo must not go unnoticed.
    pub fn with_env(self, env: &Env) -> Result<Self, PolicyError> {
        self.with_env_prefix(env, ENV_PREFIX)
    }

    /// As [`with_env`](Self::with_env), for the variables that start with `prefix`. Variables
    /// scoped to one slot kind (`VETTED_POLICY_LOGO_MIN_SIDE`) are left to [`SlotPolicies`].
    pub(crate) fn with_env_prefix(mut self, env: &Env, prefix: &str) -> Result<Self, PolicyError> {
        for (var, field, value) in env.with_prefix(prefix) {
            let invalid = |why: &dyn std::fmt::Display| SettingError::invalid(var, value, why);
            let int = || env.parsed::<u64>(var).map(Option::unwrap_or_default);
            let side = || env.parsed::<u32>(var).map(Option::unwrap_or_default);
            match field {
                "ALLOWED_TYPES" => {
                    self.allowed_types = value
                        .split(',')
                        .map(|t| ImageType::from_mime(t.trim()))
                        .collect::<Result<_, _>>()
                        .map_err(|e| invalid(&e))?;
                }
                "MIN_BYTES" => self.min_bytes = int()?,
                "MAX_BYTES" => self.max_bytes = int()?,
                "MIN_SIDE" => self.min_side = side()?,
                "MAX_SIDE" => self.max_side = side()?,
                "MAX_PIXELS" => self.max_pixels = int()?,
                "MIN_ASPECT" => {
                    self.min_aspect = Some(Aspect::parse(value).map_err(|e| invalid(&e))?);
                }
                "MAX_ASPECT" => {
                    self.max_aspect = Some(Aspect::parse(value).map_err(|e| invalid(&e))?);
                }
                // The generic pass leaves kind-scoped variables to their own pass, and the gallery
                // pass leaves `VETTED_POLICY_GALLERY_POSITIONS` to `SlotPolicies`.
                _ if prefix == ENV_PREFIX && SlotPolicies::is_kind_scoped(field) => {}
                "POSITIONS" if prefix.ends_with("_GALLERY_") => {}
                "REQUIRE_TYPE_MATCH" => {
                    self.require_type_match = value
                        .parse::<bool>()
                        .map_err(|_| invalid(&"expected true or false"))?;
                }
                "GATE_MAX_BYTES" => self.gate_max_bytes = int()?,
                "GATE_FIRST_READ_BYTES" => self.gate_first_read_bytes = int()?,
                "APPROVALS_REQUIRED" => {
                    self.approvals_required = env
                        .parsed::<u8>(var)?
                        .ok_or_else(|| invalid(&"expected 1 or 2"))?;
                }
                "KNOWN_CONTENT" => {
                    self.known_content = match value {
                        "review" => KnownContent::Review,
                        "reuse" => KnownContent::Reuse,
                        _ => return Err(invalid(&"expected review or reuse").into()),
                    };
                }
                _ => return Err(invalid(&"no such policy setting").into()),
            }
        }
        self.validated()
    }

    /// Checks that the settings make sense together.
    pub fn validated(self) -> Result<Self, PolicyError> {
        let bad = |why: &str| Err(PolicyError::Invalid(why.to_owned()));
        if self.allowed_types.is_empty() {
            return bad("allowed_types is empty: nothing could ever be uploaded");
        }
        if self.min_bytes == 0 {
            return bad("min_bytes must be at least 1: an empty file is never an image");
        }
        if self.min_bytes > self.max_bytes {
            return bad("min_bytes is greater than max_bytes");
        }
        if self.min_side == 0 || self.min_side > self.max_side {
            return bad("min_side must be at least 1 and at most max_side");
        }
        if self.max_pixels < u64::from(self.min_side) * u64::from(self.min_side) {
            return bad("max_pixels is below min_side × min_side: no image could pass");
        }
        if let (Some(min), Some(max)) = (self.min_aspect, self.max_aspect)
            && min > max
        {
            return bad("min_aspect is wider than max_aspect: no image could pass");
        }
        if self.gate_max_bytes < 64 {
            return bad("gate_max_bytes must be at least 64: no header fits in less");
        }
        if self.gate_first_read_bytes == 0 || self.gate_first_read_bytes > self.gate_max_bytes {
            return bad("gate_first_read_bytes must be between 1 and gate_max_bytes");
        }
        if !(1..=2).contains(&self.approvals_required) {
            return bad("approvals_required must be 1 or 2");
        }
        Ok(self)
    }

    pub fn allows(&self, image_type: ImageType) -> bool {
        self.allowed_types.contains(&image_type)
    }

    /// Whether `width × height` is within the aspect range (always, without one).
    pub fn aspect_allows(&self, width: u32, height: u32) -> bool {
        let wide_enough = self.min_aspect.is_none_or(|min| min.at_most(width, height));
        let narrow_enough = self
            .max_aspect
            .is_none_or(|max| max.at_least(width, height));
        wide_enough && narrow_enough
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let p = Policy::default();
        assert_eq!(
            p.allowed_types.iter().map(|t| t.mime()).collect::<Vec<_>>(),
            ["image/jpeg", "image/png", "image/webp"]
        );
        assert_eq!((p.min_bytes, p.max_bytes), (1, 20 * 1024 * 1024));
        assert_eq!(
            (p.min_side, p.max_side, p.max_pixels),
            (64, 8192, 40_000_000)
        );
        assert!(p.require_type_match);
        assert_eq!(p.gate_max_bytes, 65_536);
        assert_eq!(p.clone().validated(), Ok(p));
    }

    #[test]
    fn toml_overrides_only_what_it_names() {
        let p = Policy::from_toml("max_side = 4096\nallowed_types = [\"image/png\"]\n").unwrap();
        assert_eq!(p.max_side, 4096);
        assert_eq!(p.allowed_types, BTreeSet::from([ImageType::Png]));
        assert_eq!(p.min_side, 64);
    }

    #[test]
    fn toml_typos_and_bad_types_are_errors() {
        assert!(matches!(
            Policy::from_toml("max_sides = 1"),
            Err(PolicyError::Toml(_))
        ));
        let err = Policy::from_toml("allowed_types = [\"image/svg+xml\"]").unwrap_err();
        assert!(err.to_string().contains("image/svg+xml"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file_and_names_the_bad_variable() {
        let env = |pairs: &[(&str, &str)]| Env::from_pairs(pairs.iter().copied());
        let p = Policy::default()
            .with_env(&env(&[
                ("VETTED_POLICY_MAX_BYTES", "1000"),
                ("VETTED_POLICY_ALLOWED_TYPES", "image/png, image/webp"),
                ("PATH", "/bin"),
            ]))
            .unwrap();
        assert_eq!(p.max_bytes, 1000);
        assert_eq!(
            p.allowed_types,
            BTreeSet::from([ImageType::Png, ImageType::Webp])
        );

        let err = Policy::default()
            .with_env(&env(&[("VETTED_POLICY_MAX_BYTES", "lots")]))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("environment variable VETTED_POLICY_MAX_BYTES="),
            "{err}"
        );
        let err = Policy::default()
            .with_env(&env(&[("VETTED_POLICY_MAX_BYTE", "1")]))
            .unwrap_err();
        assert!(err.to_string().contains("no such policy setting"), "{err}");
    }

    #[test]
    fn settings_that_contradict_each_other_are_refused() {
        let cases = [
            "min_bytes = 0",
            "min_bytes = 10\nmax_bytes = 5",
            "min_side = 100\nmax_side = 50",
            "max_pixels = 10",
            "allowed_types = []",
            "gate_max_bytes = 10\ngate_first_read_bytes = 10",
            "gate_first_read_bytes = 100000",
        ];
        for text in cases {
            assert!(
                matches!(Policy::from_toml(text), Err(PolicyError::Invalid(_))),
                "{text:?} accepted"
            );
        }
    }
}
