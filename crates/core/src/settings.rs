//! Settings from environment variables: one reader for `vetted serve` and every Lambda
//! function, so that each variable is parsed one way and every error names the variable.
//!
//! [`Env`] is a snapshot of variables taken once at start-up (`Env::from_process`) or built
//! from pairs in tests. An empty or blank value counts as unset, as the SAM template leaves
//! optional parameters empty. The policy ([`crate::Policy::with_env`]) and the API settings
//! read their overrides through it; a settings file, where there is one, is read first and
//! the environment overrides it.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use thiserror::Error;

/// A setting that is missing or does not parse; always names the variable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SettingError {
    #[error("environment variable {0} is not set")]
    Missing(String),
    #[error("environment variable {var}={value:?} is not valid: {why}")]
    Invalid {
        var: String,
        value: String,
        why: String,
    },
}

impl SettingError {
    pub fn invalid(var: &str, value: &str, why: impl ToString) -> Self {
        SettingError::Invalid {
            var: var.to_owned(),
            value: value.to_owned(),
            why: why.to_string(),
        }
    }
}

/// Environment variables, trimmed, without the blank ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The variables of this process, read once.
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars())
    }

    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: AsRef<str>,
    {
        let vars = pairs
            .into_iter()
            .filter_map(|(k, v)| {
                let v = v.as_ref().trim();
                (!v.is_empty()).then(|| (k.into(), v.to_owned()))
            })
            .collect();
        Self { vars }
    }

    /// The value of `var`, if it is set.
    pub fn get(&self, var: &str) -> Option<&str> {
        self.vars.get(var).map(String::as_str)
    }

    /// A variable that must be set.
    pub fn required(&self, var: &str) -> Result<String, SettingError> {
        self.get(var)
            .map(str::to_owned)
            .ok_or_else(|| SettingError::Missing(var.to_owned()))
    }

    /// `var` parsed as `T`, if it is set.
    pub fn parsed<T>(&self, var: &str) -> Result<Option<T>, SettingError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.get(var)
            .map(|value| {
                value
                    .parse()
                    .map_err(|e: T::Err| SettingError::invalid(var, value, e))
            })
            .transpose()
    }

    /// `var` parsed as `T`, or `default` when it is unset.
    pub fn parsed_or<T>(&self, var: &str, default: T) -> Result<T, SettingError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        Ok(self.parsed(var)?.unwrap_or(default))
    }

    /// Whole seconds as a duration, if set.
    pub fn seconds(&self, var: &str) -> Result<Option<Duration>, SettingError> {
        Ok(self.parsed::<u64>(var)?.map(Duration::from_secs))
    }

    /// Whole seconds as a duration, or `default`.
    pub fn seconds_or(&self, var: &str, default: Duration) -> Result<Duration, SettingError> {
        Ok(self.seconds(var)?.unwrap_or(default))
    }

    /// Every set variable whose name starts with `prefix`, as (full name, rest of the name,
    /// value), in name order.
    pub fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str, &'a str)> + 'a {
        self.vars
            .range(prefix.to_owned()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(move |(k, v)| (k.as_str(), &k[prefix.len()..], v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_variable() {
        let env = Env::from_pairs([("VETTED_N", "lots"), ("VETTED_BLANK", "  ")]);
        assert_eq!(
            env.required("VETTED_BLANK").unwrap_err().to_string(),
            "environment variable VETTED_BLANK is not set"
        );
        let err = env.parsed::<u64>("VETTED_N").unwrap_err().to_string();
        assert!(
            err.starts_with("environment variable VETTED_N=\"lots\""),
            "{err}"
        );
        assert_eq!(env.parsed_or("VETTED_UNSET", 7u64), Ok(7));
    }

    #[test]
    fn values_are_trimmed_and_seconds_parse() {
        let env = Env::from_pairs([("T", " 30 ")]);
        assert_eq!(env.seconds("T"), Ok(Some(Duration::from_secs(30))));
        assert_eq!(
            env.seconds_or("U", Duration::from_secs(5)),
            Ok(Duration::from_secs(5))
        );
    }

    #[test]
    fn a_prefix_lists_only_its_variables() {
        let env = Env::from_pairs([
            ("VETTED_POLICY_MAX_BYTES", "1"),
            ("VETTED_POLICY_MIN_SIDE", "2"),
            ("VETTED_POLICZ", "3"),
            ("PATH", "/bin"),
        ]);
        let found: Vec<_> = env.with_prefix("VETTED_POLICY_").collect();
        assert_eq!(
            found,
            [
                ("VETTED_POLICY_MAX_BYTES", "MAX_BYTES", "1"),
                ("VETTED_POLICY_MIN_SIDE", "MIN_SIDE", "2")
            ]
        );
    }
}
