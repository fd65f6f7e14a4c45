//! Parsing one state of a definition: Pass, Choice, Succeed and Fail here (Task in
//! `task_def.rs`), and the fields they share: paths, payload templates, transitions.

use serde_json::Value;

use super::choice::parse_rule;
use super::definition::{
    ChoiceState, FailState, PassState, StateKind, SucceedState, Text, Transition,
};
use super::errors::DefinitionError;
use super::fields::Fields;
use super::paths::{Path, ResultPath, Selector};
use super::task_def::parse_task;
use super::template::{Template, join};

const PASS: &[&str] = &[
    "Type",
    "Comment",
    "InputPath",
    "OutputPath",
    "Parameters",
    "Result",
    "ResultPath",
    "Next",
    "End",
];
const CHOICE: &[&str] = &[
    "Type",
    "Comment",
    "InputPath",
    "OutputPath",
    "Choices",
    "Default",
];
const SUCCEED: &[&str] = &["Type", "Comment", "InputPath", "OutputPath"];
const FAIL: &[&str] = &[
    "Type",
    "Comment",
    "Error",
    "ErrorPath",
    "Cause",
    "CausePath",
];

pub(crate) fn parse_state(
    name: &str,
    value: &Value,
    known_queue: &dyn Fn(&str) -> bool,
) -> Result<StateKind, DefinitionError> {
    let type_name = value
        .get("Type")
        .ok_or_else(|| {
            DefinitionError::at(Some(name), Some("Type"), "missing_field", "is required")
        })?
        .as_str()
        .ok_or_else(|| {
            DefinitionError::at(
                Some(name),
                Some("Type"),
                "invalid_value",
                "must be a string",
            )
        })?;
    match type_name {
        "Task" => parse_task(name, value, known_queue).map(|t| StateKind::Task(Box::new(t))),
        "Pass" => parse_pass(&Fields::new(Some(name), "", value, "a Pass state", PASS)?),
        "Choice" => parse_choice(&Fields::new(
            Some(name),
            "",
            value,
            "a Choice state",
            CHOICE,
        )?),
        "Succeed" => {
            let f = Fields::new(Some(name), "", value, "a Succeed state", SUCCEED)?;
            Ok(StateKind::Succeed(SucceedState {
                input_path: selector(&f, "InputPath")?,
                output_path: selector(&f, "OutputPath")?,
            }))
        }
        "Fail" => {
            let f = Fields::new(Some(name), "", value, "a Fail state", FAIL)?;
            Ok(StateKind::Fail(FailState {
                error: text(&f, "Error", "ErrorPath")?,
                cause: text(&f, "Cause", "CausePath")?,
            }))
        }
        "Wait" | "Parallel" | "Map" => Err(DefinitionError::at(
            Some(name),
            Some("Type"),
            "unsupported",
            format!("{type_name} states are not supported by the embedded engine"),
        )),
        other => Err(DefinitionError::at(
            Some(name),
            Some("Type"),
            "invalid_value",
            format!("{other:?} is not a state type"),
        )),
    }
}

pub(crate) fn selector(f: &Fields<'_>, key: &str) -> Result<Selector, DefinitionError> {
    Selector::parse(f.value(key)).map_err(|reason| f.error(key, "invalid_value", reason))
}

pub(crate) fn result_path(f: &Fields<'_>, key: &str) -> Result<ResultPath, DefinitionError> {
    ResultPath::parse(f.value(key)).map_err(|reason| f.error(key, "invalid_value", reason))
}

pub(crate) fn template(f: &Fields<'_>, key: &str) -> Result<Option<Template>, DefinitionError> {
    f.value(key)
        .map(|v| {
            Template::parse(v)
                .map_err(|(inner, reason)| f.error(&join(key, &inner), "invalid_value", reason))
        })
        .transpose()
}

/// `Next` or `End: true`, exactly one of them.
pub(crate) fn transition(f: &Fields<'_>) -> Result<Transition, DefinitionError> {
    let next = f.str("Next")?;
    let end = f.bool("End")?;
    match (next, end) {
        (Some(next), None) => Ok(Transition::Next(next.to_owned())),
        (None, Some(true)) => Ok(Transition::End),
        (None, Some(false)) => Err(f.error("End", "invalid_value", "must be true; use Next")),
        (Some(_), Some(_)) => Err(f.error("End", "invalid_value", "cannot be given with Next")),
        (None, None) => Err(f.error(
            "Next",
            "missing_field",
            "a Next or \"End\": true is required",
        )),
    }
}

fn parse_pass(f: &Fields<'_>) -> Result<StateKind, DefinitionError> {
    Ok(StateKind::Pass(PassState {
        input_path: selector(f, "InputPath")?,
        output_path: selector(f, "OutputPath")?,
        parameters: template(f, "Parameters")?,
        result: f.value("Result").cloned(),
        result_path: result_path(f, "ResultPath")?,
        transition: transition(f)?,
    }))
}

fn parse_choice(f: &Fields<'_>) -> Result<StateKind, DefinitionError> {
    let state = f.state().unwrap_or_default();
    let rules = f
        .array("Choices")?
        .filter(|rules| !rules.is_empty())
        .ok_or_else(|| {
            f.error(
                "Choices",
                "missing_field",
                "a non-empty array of rules is required",
            )
        })?;
    let mut choices = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let prefix = format!("Choices[{i}].");
        let parsed = parse_rule(state, &prefix, rule, true)?;
        let next = rule.get("Next").and_then(Value::as_str).ok_or_else(|| {
            DefinitionError::at(
                Some(state),
                Some(&format!("{prefix}Next")),
                "missing_field",
                "every Choice rule needs a Next",
            )
        })?;
        choices.push((parsed, next.to_owned()));
    }
    Ok(StateKind::Choice(ChoiceState {
        input_path: selector(f, "InputPath")?,
        output_path: selector(f, "OutputPath")?,
        choices,
        default: f.str("Default")?.map(str::to_owned),
    }))
}

fn text(f: &Fields<'_>, literal: &str, path: &str) -> Result<Option<Text>, DefinitionError> {
    match (f.str(literal)?, f.str(path)?) {
        (Some(_), Some(_)) => Err(f.error(
            path,
            "invalid_value",
            format!("cannot be given with {literal}"),
        )),
        (Some(text), None) => Ok(Some(Text::Literal(text.to_owned()))),
        (None, Some(p)) => Path::parse(p, true)
            .map(|p| Some(Text::Path(p)))
            .map_err(|reason| f.error(path, "invalid_value", reason)),
        (None, None) => Ok(None),
    }
}
