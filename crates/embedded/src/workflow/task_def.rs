//! Task states: the SQS integrations the engine implements, timeouts, Retry and Catch.

use serde_json::Value;

use super::definition::Transition;
use super::errors::{DefinitionError, STATES_ALL, is_known_states_error};
use super::fields::Fields;
use super::paths::{Path, ResultPath, Selector};
use super::state_def::{result_path, selector, template, transition};
use super::template::Template;

pub(crate) const SEND_MESSAGE: &str = "arn:aws:states:::sqs:sendMessage";
pub(crate) const SEND_MESSAGE_WAIT: &str = "arn:aws:states:::sqs:sendMessage.waitForTaskToken";

/// `Parameters` fields of `sqs:sendMessage` that the engine implements.
const SQS_FIELDS: &[&str] = &["QueueUrl", "MessageBody"];
/// Fields Step Functions would pass to SQS that the work-queue port cannot carry.
const SQS_UNSUPPORTED: &[&str] = &[
    "DelaySeconds",
    "MessageAttributes",
    "MessageDeduplicationId",
    "MessageGroupId",
    "MessageSystemAttributes",
];

const TASK: &[&str] = &[
    "Type",
    "Comment",
    "Resource",
    "Parameters",
    "ResultSelector",
    "InputPath",
    "OutputPath",
    "ResultPath",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "HeartbeatSeconds",
    "HeartbeatSecondsPath",
    "Retry",
    "Catch",
    "Next",
    "End",
];
const RETRIER: &[&str] = &[
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
    "Comment",
];
const CATCHER: &[&str] = &["ErrorEquals", "Next", "ResultPath", "Comment"];

/// A duration in whole seconds, fixed or read from the state's input.
#[derive(Debug, Clone)]
pub(crate) enum Seconds {
    Fixed(u64),
    Path(Path),
}

#[derive(Debug, Clone)]
pub(crate) struct Retrier {
    pub(crate) error_equals: Vec<String>,
    pub(crate) interval_seconds: u64,
    pub(crate) max_attempts: u64,
    pub(crate) backoff_rate: f64,
    pub(crate) max_delay_seconds: Option<u64>,
    pub(crate) full_jitter: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Catcher {
    pub(crate) error_equals: Vec<String>,
    pub(crate) result_path: ResultPath,
    pub(crate) next: String,
}

#[derive(Debug, Clone)]
pub(crate) struct TaskState {
    /// `.waitForTaskToken`: the task waits for an answer; otherwise it ends once sent.
    pub(crate) wait_for_token: bool,
    pub(crate) input_path: Selector,
    pub(crate) output_path: Selector,
    pub(crate) parameters: Template,
    pub(crate) result_selector: Option<Template>,
    pub(crate) result_path: ResultPath,
    pub(crate) timeout: Option<Seconds>,
    pub(crate) heartbeat: Option<Seconds>,
    pub(crate) retry: Vec<Retrier>,
    pub(crate) catch: Vec<Catcher>,
    pub(crate) transition: Transition,
}

pub(crate) fn parse_task(
    name: &str,
    value: &Value,
    known_queue: &dyn Fn(&str) -> bool,
) -> Result<TaskState, DefinitionError> {
    let f = Fields::new(Some(name), "", value, "a Task state", TASK)?;
    let wait_for_token = match f.required_str("Resource")? {
        SEND_MESSAGE_WAIT => true,
        SEND_MESSAGE => false,
        other => {
            return Err(f.error(
                "Resource",
                "unsupported",
                format!(
                    "{other:?} is not supported: the embedded engine implements only \
                     {SEND_MESSAGE} and {SEND_MESSAGE_WAIT}"
                ),
            ));
        }
    };
    let parameters = template(&f, "Parameters")?.ok_or_else(|| {
        f.error(
            "Parameters",
            "missing_field",
            "QueueUrl and MessageBody are required",
        )
    })?;
    check_sqs_parameters(&f, &parameters, wait_for_token, known_queue)?;
    let timeout = seconds(&f, "TimeoutSeconds", "TimeoutSecondsPath")?;
    let heartbeat = seconds(&f, "HeartbeatSeconds", "HeartbeatSecondsPath")?;
    if let (Some(Seconds::Fixed(t)), Some(Seconds::Fixed(h))) = (&timeout, &heartbeat)
        && h >= t
    {
        return Err(f.error(
            "HeartbeatSeconds",
            "invalid_value",
            "must be less than TimeoutSeconds",
        ));
    }
    Ok(TaskState {
        wait_for_token,
        input_path: selector(&f, "InputPath")?,
        output_path: selector(&f, "OutputPath")?,
        parameters,
        result_selector: template(&f, "ResultSelector")?,
        result_path: result_path(&f, "ResultPath")?,
        timeout,
        heartbeat,
        retry: retriers(&f)?,
        catch: catchers(&f)?,
        transition: transition(&f)?,
    })
}

fn check_sqs_parameters(
    f: &Fields<'_>,
    parameters: &Template,
    wait_for_token: bool,
    known_queue: &dyn Fn(&str) -> bool,
) -> Result<(), DefinitionError> {
    let names = parameters.field_names();
    if names.is_empty() {
        return Err(f.error(
            "Parameters",
            "invalid_value",
            "must be an object with QueueUrl and MessageBody",
        ));
    }
    for name in &names {
        if SQS_UNSUPPORTED.contains(&name.as_str()) {
            return Err(f.error(
                &format!("Parameters.{name}"),
                "unsupported",
                "not supported: the work-queue port has no such option",
            ));
        }
        if !SQS_FIELDS.contains(&name.as_str()) {
            return Err(f.error(
                &format!("Parameters.{name}"),
                "unknown_field",
                "is not a parameter of sqs:sendMessage",
            ));
        }
    }
    for required in SQS_FIELDS {
        if !names.iter().any(|n| n == required) {
            return Err(f.error(
                &format!("Parameters.{required}"),
                "missing_field",
                "is required",
            ));
        }
    }
    if let Some(url) = parameters.static_field("QueueUrl") {
        let url = url
            .as_str()
            .ok_or_else(|| f.error("Parameters.QueueUrl", "invalid_value", "must be a string"))?;
        if !known_queue(url) {
            return Err(f.error(
                "Parameters.QueueUrl",
                "unknown_queue",
                format!("{url:?} is not one of the engine's queues"),
            ));
        }
    }
    if wait_for_token && !parameters.reads_context("$$.Task.Token") {
        return Err(f.error(
            "Parameters",
            "missing_field",
            "a .waitForTaskToken task must send $$.Task.Token, or nothing can answer it",
        ));
    }
    Ok(())
}

fn seconds(f: &Fields<'_>, fixed: &str, path: &str) -> Result<Option<Seconds>, DefinitionError> {
    let value = f.integer(fixed, 1)?;
    let from = f.str(path)?;
    match (value, from) {
        (Some(_), Some(_)) => Err(f.error(
            path,
            "invalid_value",
            format!("cannot be given with {fixed}"),
        )),
        (Some(v), None) => Ok(Some(Seconds::Fixed(v))),
        (None, Some(text)) => Path::parse(text, false)
            .ok()
            .filter(Path::is_reference)
            .map(|p| Some(Seconds::Path(p)))
            .ok_or_else(|| f.error(path, "invalid_value", "must be a reference path")),
        (None, None) => Ok(None),
    }
}

fn error_equals(f: &Fields<'_>, is_last: bool) -> Result<Vec<String>, DefinitionError> {
    let names = f.strings("ErrorEquals")?;
    if names.iter().any(|n| n == STATES_ALL) {
        if names.len() > 1 {
            return Err(f.error(
                "ErrorEquals",
                "invalid_value",
                "States.ALL must appear alone",
            ));
        }
        if !is_last {
            return Err(f.error(
                "ErrorEquals",
                "invalid_value",
                "States.ALL must be in the last entry",
            ));
        }
    }
    if let Some(unknown) = names.iter().find(|n| !is_known_states_error(n)) {
        return Err(f.error(
            "ErrorEquals",
            "invalid_value",
            format!("{unknown:?} is not an error the States Language defines"),
        ));
    }
    Ok(names)
}

fn retriers(f: &Fields<'_>) -> Result<Vec<Retrier>, DefinitionError> {
    let Some(items) = f.array("Retry")? else {
        return Ok(Vec::new());
    };
    let state = f.state();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let r = Fields::new(state, &format!("Retry[{i}]."), item, "a Retrier", RETRIER)?;
        let backoff_rate = r.number("BackoffRate")?.unwrap_or(2.0);
        if !(1.0..=1e6).contains(&backoff_rate) {
            return Err(r.error("BackoffRate", "invalid_value", "must be at least 1.0"));
        }
        let full_jitter = match r.str("JitterStrategy")? {
            None | Some("NONE") => false,
            Some("FULL") => true,
            Some(_) => {
                return Err(r.error("JitterStrategy", "invalid_value", "must be FULL or NONE"));
            }
        };
        out.push(Retrier {
            error_equals: error_equals(&r, i + 1 == items.len())?,
            interval_seconds: r.integer("IntervalSeconds", 1)?.unwrap_or(1),
            max_attempts: r.integer("MaxAttempts", 0)?.unwrap_or(3),
            backoff_rate,
            max_delay_seconds: r.integer("MaxDelaySeconds", 1)?,
            full_jitter,
        });
    }
    Ok(out)
}

fn catchers(f: &Fields<'_>) -> Result<Vec<Catcher>, DefinitionError> {
    let Some(items) = f.array("Catch")? else {
        return Ok(Vec::new());
    };
    let state = f.state();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let c = Fields::new(state, &format!("Catch[{i}]."), item, "a Catcher", CATCHER)?;
        out.push(Catcher {
            error_equals: error_equals(&c, i + 1 == items.len())?,
            result_path: result_path(&c, "ResultPath")?,
            next: c.required_str("Next")?.to_owned(),
        });
    }
    Ok(out)
}
