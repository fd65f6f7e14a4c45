//! A workflow definition: the ASL text parsed into typed states, validated as a whole.
//!
//! Loading refuses, naming the state and the field, anything the engine would otherwise have
//! to ignore or guess at: unknown or unsupported fields and state types, a missing or dangling
//! `Next`, `End` and `Next` together, unreachable states, unknown queues, malformed paths.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::choice::Rule;
use super::errors::DefinitionError;
use super::fields::Fields;
use super::paths::{Path, ResultPath, Selector};
use super::state_def::parse_state;
use super::task_def::TaskState;
use super::template::Template;

/// Where a state goes when it is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transition {
    Next(String),
    End,
}

#[derive(Debug, Clone)]
pub(crate) struct PassState {
    pub(crate) input_path: Selector,
    pub(crate) output_path: Selector,
    pub(crate) parameters: Option<Template>,
    pub(crate) result: Option<Value>,
    pub(crate) result_path: ResultPath,
    pub(crate) transition: Transition,
}

#[derive(Debug, Clone)]
pub(crate) struct ChoiceState {
    pub(crate) input_path: Selector,
    pub(crate) output_path: Selector,
    pub(crate) choices: Vec<(Rule, String)>,
    pub(crate) default: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct SucceedState {
    pub(crate) input_path: Selector,
    pub(crate) output_path: Selector,
}

/// A Fail state's `Error` or `Cause`: literal, or read from the input (`ErrorPath`).
#[derive(Debug, Clone)]
pub(crate) enum Text {
    Literal(String),
    Path(Path),
}

#[derive(Debug, Clone)]
pub(crate) struct FailState {
    pub(crate) error: Option<Text>,
    pub(crate) cause: Option<Text>,
}

#[derive(Debug, Clone)]
pub(crate) enum StateKind {
    Task(Box<TaskState>),
    Pass(PassState),
    Choice(ChoiceState),
    Succeed(SucceedState),
    Fail(FailState),
}

impl StateKind {
    /// The type's name as Step Functions spells it in history events (`TaskStateEntered`).
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            StateKind::Task(_) => "Task",
            StateKind::Pass(_) => "Pass",
            StateKind::Choice(_) => "Choice",
            StateKind::Succeed(_) => "Succeed",
            StateKind::Fail(_) => "Fail",
        }
    }
}

/// A loaded, validated definition.
#[derive(Debug, Clone)]
pub struct Definition {
    pub(crate) start_at: String,
    pub(crate) states: HashMap<String, StateKind>,
    /// State names, sorted (JSON objects have no order).
    order: Vec<String>,
    /// SHA-256 of the text: executions remember which definition they run.
    pub(crate) hash: String,
    pub(crate) text: String,
}

const TOP_LEVEL: &[&str] = &["Comment", "StartAt", "States", "Version", "QueryLanguage"];
impl Definition {
    /// Parses and validates `text`. `known_queue` says whether a `QueueUrl` written in the file
    /// names a queue the engine can send to.
    pub fn parse(text: &str, known_queue: &dyn Fn(&str) -> bool) -> Result<Self, DefinitionError> {
        let json: Value =
            serde_json::from_str(text).map_err(|e| DefinitionError::NotJson(e.to_string()))?;
        if json.get("TimeoutSeconds").is_some() {
            return Err(DefinitionError::at(
                None,
                Some("TimeoutSeconds"),
                "unsupported",
                "not supported: an execution-wide timeout is not implemented; time out tasks instead",
            ));
        }
        let top = Fields::new(None, "", &json, "a state machine definition", TOP_LEVEL)?;
        if let Some(version) = top.str("Version")?
            && version != "1.0"
        {
            return Err(top.error("Version", "invalid_value", "only version 1.0 exists"));
        }
        if let Some(language) = top.str("QueryLanguage")?
            && language != "JSONPath"
        {
            return Err(top.error(
                "QueryLanguage",
                "unsupported",
                "only JSONPath is implemented",
            ));
        }
        let start_at = top.required_str("StartAt")?.to_owned();
        let states_json = top
            .value("States")
            .ok_or_else(|| top.error("States", "missing_field", "is required"))?
            .as_object()
            .filter(|states| !states.is_empty())
            .ok_or_else(|| top.error("States", "invalid_value", "must be a non-empty object"))?;
        let mut states = HashMap::with_capacity(states_json.len());
        let mut order = Vec::with_capacity(states_json.len());
        for (name, state) in states_json {
            if name.is_empty() || name.chars().count() > 80 {
                return Err(DefinitionError::at(
                    Some(name),
                    None,
                    "invalid_value",
                    "a state name must be 1 to 80 characters",
                ));
            }
            states.insert(name.clone(), parse_state(name, state, known_queue)?);
            order.push(name.clone());
        }
        let definition = Definition {
            start_at,
            states,
            order,
            hash: hex::encode(Sha256::digest(text.as_bytes())),
            text: text.to_owned(),
        };
        definition.check_graph()?;
        Ok(definition)
    }

    pub fn start_at(&self) -> &str {
        &self.start_at
    }

    /// Every state's name, sorted.
    pub fn state_names(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }

    /// A short, stable id of this exact text.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Every target named by `state`, with the field that names it.
    fn targets(kind: &StateKind) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        fn transition<'k>(out: &mut Vec<(String, &'k str)>, t: &'k Transition) {
            if let Transition::Next(next) = t {
                out.push(("Next".to_owned(), next.as_str()));
            }
        }
        match kind {
            StateKind::Task(task) => {
                transition(&mut out, &task.transition);
                for (i, catcher) in task.catch.iter().enumerate() {
                    out.push((format!("Catch[{i}].Next"), catcher.next.as_str()));
                }
            }
            StateKind::Pass(pass) => transition(&mut out, &pass.transition),
            StateKind::Choice(choice) => {
                for (i, (_, next)) in choice.choices.iter().enumerate() {
                    out.push((format!("Choices[{i}].Next"), next.as_str()));
                }
                if let Some(default) = &choice.default {
                    out.push(("Default".to_owned(), default.as_str()));
                }
            }
            StateKind::Succeed(_) | StateKind::Fail(_) => {}
        }
        out
    }

    fn check_graph(&self) -> Result<(), DefinitionError> {
        if !self.states.contains_key(&self.start_at) {
            return Err(DefinitionError::at(
                None,
                Some("StartAt"),
                "unknown_state",
                format!("names {:?}, which is not a state", self.start_at),
            ));
        }
        for name in &self.order {
            for (field, target) in Self::targets(&self.states[name]) {
                if !self.states.contains_key(target) {
                    return Err(DefinitionError::at(
                        Some(name),
                        Some(&field),
                        "unknown_state",
                        format!("names {target:?}, which is not a state"),
                    ));
                }
            }
        }
        let mut seen: HashSet<&str> = HashSet::from([self.start_at.as_str()]);
        let mut queue = VecDeque::from([self.start_at.as_str()]);
        while let Some(name) = queue.pop_front() {
            for (_, target) in Self::targets(&self.states[name]) {
                if seen.insert(target) {
                    queue.push_back(target);
                }
            }
        }
        match self.order.iter().find(|name| !seen.contains(name.as_str())) {
            Some(unreachable) => Err(DefinitionError::at(
                Some(unreachable),
                None,
                "unreachable_state",
                "no transition leads to this state",
            )),
            None => Ok(()),
        }
    }
}
