//! Why a definition is refused, and the error names of the States Language with their matching
//! rules (`States.ALL`, `States.TaskFailed`, the timeouts).

use std::fmt;

use thiserror::Error;

pub const STATES_ALL: &str = "States.ALL";
pub const STATES_TIMEOUT: &str = "States.Timeout";
pub const STATES_HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
pub const STATES_TASK_FAILED: &str = "States.TaskFailed";
pub const STATES_RUNTIME: &str = "States.Runtime";
pub const STATES_NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
pub const STATES_DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";

/// Every `States.*` name the language defines; any other `States.` name in an `ErrorEquals`
/// is a typo that would never match, so it is refused at load.
const KNOWN_STATES_ERRORS: &[&str] = &[
    STATES_ALL,
    STATES_TIMEOUT,
    STATES_HEARTBEAT_TIMEOUT,
    STATES_TASK_FAILED,
    STATES_RUNTIME,
    STATES_NO_CHOICE_MATCHED,
    STATES_DATA_LIMIT_EXCEEDED,
    "States.Permissions",
    "States.ResultPathMatchFailure",
    "States.ParameterPathFailure",
    "States.BranchFailed",
    "States.IntrinsicFailure",
    "States.ExceedToleratedFailureThreshold",
    "States.ItemReaderFailed",
    "States.ResultWriterFailed",
    "States.QueryEvaluationError",
    "States.Http.Socket",
];

pub(crate) fn is_known_states_error(name: &str) -> bool {
    !name.starts_with("States.") || KNOWN_STATES_ERRORS.contains(&name)
}

/// Whether a Retrier's or Catcher's `ErrorEquals` matches `error`, as Step Functions decides:
/// - `States.ALL` matches everything except the terminal `States.Runtime` and
///   `States.DataLimitExceeded`, which no Retry or Catch ever handles;
/// - `States.TaskFailed` matches every error but the timeouts;
/// - `States.Timeout` also matches a heartbeat timeout (`States.HeartbeatTimeout`).
pub(crate) fn error_matches(error_equals: &[String], error: &str) -> bool {
    if is_terminal(error) {
        return false;
    }
    let is_timeout = error == STATES_TIMEOUT || error == STATES_HEARTBEAT_TIMEOUT;
    error_equals.iter().any(|name| {
        name == error
            || name == STATES_ALL
            || (name == STATES_TASK_FAILED && !is_timeout)
            || (name == STATES_TIMEOUT && error == STATES_HEARTBEAT_TIMEOUT)
    })
}

/// Errors that end the execution whatever the state's Retry and Catch say.
pub(crate) fn is_terminal(error: &str) -> bool {
    error == STATES_RUNTIME || error == STATES_DATA_LIMIT_EXCEEDED
}

/// Where in a definition a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// `None` for the top level of the definition.
    pub state: Option<String>,
    /// The field, with its position inside arrays (`Retry[1].ErrorEquals`).
    pub field: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            Some(state) => write!(f, "state {state:?}")?,
            None => f.write_str("top level")?,
        }
        if let Some(field) = &self.field {
            write!(f, ", field {field:?}")?;
        }
        Ok(())
    }
}

/// Why a definition cannot be loaded. Nothing in a definition is ever ignored: a field or
/// construct the engine does not implement is refused here, never skipped at run time.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DefinitionError {
    #[error("the definition is not JSON: {0}")]
    NotJson(String),
    #[error("the definition still contains the placeholder ${{{0}}}")]
    UnresolvedPlaceholder(String),
    #[error("{location}: {reason} [{code}]")]
    Invalid {
        location: Location,
        /// A stable reason code: `unsupported`, `unknown_field`, `missing_field`,
        /// `invalid_value`, `unknown_state`, `unreachable_state` or `unknown_queue`.
        code: &'static str,
        reason: String,
    },
}

impl DefinitionError {
    pub(crate) fn at(
        state: Option<&str>,
        field: Option<&str>,
        code: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        DefinitionError::Invalid {
            location: Location {
                state: state.map(str::to_owned),
                field: field.map(str::to_owned),
            },
            code,
            reason: reason.into(),
        }
    }

    /// The stable code of this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            DefinitionError::NotJson(_) => "not_json",
            DefinitionError::UnresolvedPlaceholder(_) => "unresolved_placeholder",
            DefinitionError::Invalid { code, .. } => code,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn wildcards_match_as_step_functions_does() {
        let all = names(&[STATES_ALL]);
        assert!(error_matches(&all, "Vetted.Permanent"));
        assert!(error_matches(&all, STATES_TIMEOUT));
        assert!(!error_matches(&all, STATES_RUNTIME));
        let task_failed = names(&[STATES_TASK_FAILED]);
        assert!(error_matches(&task_failed, "Vetted.Permanent"));
        assert!(!error_matches(&task_failed, STATES_TIMEOUT));
        assert!(!error_matches(&task_failed, STATES_HEARTBEAT_TIMEOUT));
        let timeout = names(&[STATES_TIMEOUT]);
        assert!(error_matches(&timeout, STATES_HEARTBEAT_TIMEOUT));
        assert!(!error_matches(
            &names(&[STATES_HEARTBEAT_TIMEOUT]),
            STATES_TIMEOUT
        ));
        assert!(!error_matches(
            &names(&["Vetted.Retryable"]),
            "Vetted.Permanent"
        ));
    }

    #[test]
    fn locations_name_the_state_and_the_field() {
        let e = DefinitionError::at(Some("Sanitize"), Some("Credentials"), "unsupported", "no");
        assert_eq!(
            e.to_string(),
            "state \"Sanitize\", field \"Credentials\": no [unsupported]"
        );
        assert_eq!(e.code(), "unsupported");
    }
}
