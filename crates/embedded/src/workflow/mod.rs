//! The embedded workflow engine: runs `statemachine/review.asl.json` inside `vetted serve`,
//! durably, in the same SQLite file as everything else.
//!
//! It interprets the Amazon States Language (JSONPath flavour) as Step Functions does, for the
//! constructs it implements, and refuses every other one when the definition is loaded:
//!
//! | implemented | |
//! |---|---|
//! | states | `Task`, `Pass`, `Choice`, `Succeed`, `Fail` |
//! | Task resources | `arn:aws:states:::sqs:sendMessage` and `…sqs:sendMessage.waitForTaskToken`, to the engine's queues (`QueueUrl`, `MessageBody`) |
//! | data flow | `InputPath`, `Parameters` and `ResultSelector` with `.$` fields (input paths and the context object: `$$.Execution.*`, `$$.State.*`, `$$.StateMachine.*`, `$$.Task.Token`), `ResultPath` (incl. `null`), `OutputPath` (incl. `null`), `Result` |
//! | time | `TimeoutSeconds`, `TimeoutSecondsPath`, `HeartbeatSeconds`, `HeartbeatSecondsPath` |
//! | errors | `Retry` (`ErrorEquals`, `IntervalSeconds`, `MaxAttempts` incl. 0, `BackoffRate`, `MaxDelaySeconds`, `JitterStrategy`), `Catch` (`ErrorEquals`, `ResultPath`, `Next`), `States.ALL`, `States.TaskFailed`, `States.Timeout`, `States.HeartbeatTimeout`, `States.Runtime`, custom names |
//! | Choice | every JSONPath comparison (`String*`, `Numeric*`, `Boolean*`, `Timestamp*`, their `…Path` forms, `StringMatches`, `Is*`), `And`, `Or`, `Not`, `Default` |
//! | other | `Comment` anywhere, `Version: "1.0"`, `QueryLanguage: "JSONPath"` |
//!
//! Refused at load, with the state and field named: `Wait`, `Map`, `Parallel` states, every
//! other resource, intrinsic functions (`States.Format(...)`), JSONata (`QueryLanguage`,
//! `Arguments`, `Output`, `Condition`), `Assign`, `Credentials`, a top-level `TimeoutSeconds`,
//! SQS options the queue port cannot carry (`DelaySeconds`, `MessageGroupId`, ...), unknown
//! fields, missing or dangling transitions, unreachable states, and queues the engine lacks.
//!
//! Known differences from Step Functions: a plain `sqs:sendMessage` task's result is
//! `{"MessageId": ...}` with the engine's id, not SQS's; non-reference paths follow RFC 9535
//! (`serde_json_path`), which Step Functions' JSONPath mostly but not always agrees with.

mod choice;
mod choice_eval;
mod definition;
mod engine;
mod errors;
mod fields;
mod history;
mod machine;
mod paths;
mod state_def;
pub(crate) mod store;
mod task_def;
mod template;

pub use definition::Definition;
pub use engine::{
    EmbeddedWorkflow, EngineError, POLL_INTERVAL, REVIEW_TASKS_QUEUE_URL, SANITIZE_QUEUE_URL,
    STATE_MACHINE_NAME,
};
pub use errors::{DefinitionError, Location};
pub use history::{ExecutionDescription, ExecutionStatus, HistoryEvent};

pub(crate) use store::MIGRATIONS;

/// Replaces each `${Name}` in an ASL text with its value (JSON-escaped: placeholders sit inside
/// strings), as SAM's `DefinitionSubstitutions` do, and refuses a text with any `${...}` left.
pub fn substitute(asl: &str, values: &[(&str, &str)]) -> Result<String, DefinitionError> {
    let mut text = asl.to_owned();
    for (name, value) in values {
        let quoted = serde_json::Value::String((*value).to_owned()).to_string();
        text = text.replace(&format!("${{{name}}}"), &quoted[1..quoted.len() - 1]);
    }
    if let Some(start) = text.find("${") {
        let rest = &text[start + 2..];
        let name = rest.split('}').next().unwrap_or(rest);
        return Err(DefinitionError::UnresolvedPlaceholder(name.to_owned()));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_fills_placeholders_and_names_leftovers() {
        let asl = r#"{"a": "${One}", "b": "${Two}"}"#;
        let done = substitute(asl, &[("One", "x\"y"), ("Two", "z")]).unwrap();
        let json: serde_json::Value = serde_json::from_str(&done).unwrap();
        assert_eq!(json["a"], "x\"y");
        assert_eq!(
            substitute(asl, &[("One", "x")]),
            Err(DefinitionError::UnresolvedPlaceholder("Two".to_owned()))
        );
    }
}
