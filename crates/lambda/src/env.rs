//! Reading settings from the environment, failing fast with the variable's name.

use std::str::FromStr;
use std::time::Duration;

use thiserror::Error;
use vetted_core::policy::{Policy, PolicyError};

#[derive(Debug, Error)]
pub enum EnvError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {var}={value:?} is not valid: {why}")]
    Invalid {
        var: &'static str,
        value: String,
        why: String,
    },
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

/// A variable that must be set and non-empty.
pub fn required(var: &'static str) -> Result<String, EnvError> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(EnvError::Missing(var)),
    }
}

/// A variable parsed as `T`, or `default` when it is unset or empty.
pub fn parsed_or<T>(var: &'static str, default: T) -> Result<T, EnvError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => {
            value.trim().parse().map_err(|e: T::Err| EnvError::Invalid {
                var,
                value,
                why: e.to_string(),
            })
        }
        _ => Ok(default),
    }
}

/// Seconds as a duration, or `default`.
pub fn seconds_or(var: &'static str, default: Duration) -> Result<Duration, EnvError> {
    parsed_or(var, default.as_secs()).map(Duration::from_secs)
}

/// The default policy with any `VETTED_POLICY_*` overrides.
pub fn policy() -> Result<Policy, EnvError> {
    Ok(Policy::default().with_env(std::env::vars())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_variable() {
        let missing = required("VETTED_TEST_SURELY_UNSET_VARIABLE").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "environment variable VETTED_TEST_SURELY_UNSET_VARIABLE is not set"
        );
        assert_eq!(
            parsed_or("VETTED_TEST_SURELY_UNSET_VARIABLE", 7u64).unwrap(),
            7
        );
    }
}
