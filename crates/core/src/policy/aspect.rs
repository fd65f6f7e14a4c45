//! A width-to-height ratio, exact to a thousandth, so that policies compare in integers.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "aspect ratio {0:?} must be W:H or a decimal width/height between 0.001 and 1000, such as \"16:9\" or \"1.6\""
)]
pub struct AspectError(pub String);

/// Width divided by height, in thousandths: `16:9` is 1778, `1:1` is 1000.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Aspect(u32);

impl Aspect {
    /// Parses `"W:H"` (`"16:9"`, `"1.6:1"`) or a decimal (`"1.6"`).
    pub fn parse(raw: &str) -> Result<Self, AspectError> {
        let bad = || AspectError(raw.to_owned());
        let number = |text: &str| -> Result<f64, AspectError> {
            let value: f64 = text.trim().parse().map_err(|_| bad())?;
            if value.is_finite() && value > 0.0 {
                Ok(value)
            } else {
                Err(bad())
            }
        };
        let ratio = match raw.split_once(':') {
            Some((w, h)) => number(w)? / number(h)?,
            None => number(raw)?,
        };
        let thousandths = (ratio * 1000.0).round();
        if (0.001..=1000.0).contains(&ratio) && thousandths >= 1.0 {
            // In range, so the cast cannot truncate.
            Ok(Self(thousandths as u32))
        } else {
            Err(bad())
        }
    }

    pub fn thousandths(self) -> u32 {
        self.0
    }

    /// Whether this ratio is at most `width / height`.
    pub fn at_most(self, width: u32, height: u32) -> bool {
        u64::from(self.0) * u64::from(height) <= u64::from(width) * 1000
    }

    /// Whether this ratio is at least `width / height`.
    pub fn at_least(self, width: u32, height: u32) -> bool {
        u64::from(width) * 1000 <= u64::from(self.0) * u64::from(height)
    }
}

/// Written as `W:1` with up to three decimals: `1:1`, `1.6:1`, `0.333:1`.
impl fmt::Display for Aspect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, part) = (self.0 / 1000, self.0 % 1000);
        if part == 0 {
            write!(f, "{whole}:1")
        } else {
            let decimals = format!("{part:03}");
            write!(f, "{whole}.{}:1", decimals.trim_end_matches('0'))
        }
    }
}

impl fmt::Debug for Aspect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Aspect({self})")
    }
}

impl TryFrom<String> for Aspect {
    type Error = AspectError;
    fn try_from(raw: String) -> Result<Self, AspectError> {
        Self::parse(&raw)
    }
}

impl From<Aspect> for String {
    fn from(aspect: Aspect) -> String {
        aspect.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_parse_in_both_spellings_and_print_as_w_to_1() {
        assert_eq!(Aspect::parse("16:9").unwrap().thousandths(), 1778);
        assert_eq!(Aspect::parse("1.6").unwrap(), Aspect::parse("8:5").unwrap());
        assert_eq!(Aspect::parse("4:1").unwrap().to_string(), "4:1");
        assert_eq!(Aspect::parse("1:3").unwrap().to_string(), "0.333:1");
        assert_eq!(Aspect::parse("1.6:1").unwrap().to_string(), "1.6:1");
        for bad in [
            "", "0", "-1:1", "1:0", "x:1", "NaN", "inf", "1:2000", "5000",
        ] {
            assert!(Aspect::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn comparisons_are_exact_at_the_edges() {
        let square = Aspect::parse("1:1").unwrap();
        assert!(square.at_most(512, 512) && square.at_least(512, 512));
        assert!(!square.at_most(511, 512));
        let four = Aspect::parse("4:1").unwrap();
        assert!(four.at_least(2048, 512) && !four.at_least(2049, 512));
    }
}
