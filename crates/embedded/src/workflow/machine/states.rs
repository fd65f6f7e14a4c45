//! Entering a state: Pass, Choice, Succeed and Fail run to their output here; a Task is
//! handed to `task.rs`. Leaving one writes its history and picks the next state.

use serde_json::{Value, json};

use super::{Machine, Next};
use crate::workflow::definition::{StateKind, Text, Transition};
use crate::workflow::errors::{STATES_NO_CHOICE_MATCHED, STATES_RUNTIME};
use crate::workflow::paths::PathError;
use crate::workflow::store::{FAILED, MAX_HISTORY_EVENTS, SUCCEEDED};

impl Machine<'_> {
    pub(super) fn enter(&mut self, name: String, input: Value) -> rusqlite::Result<Next> {
        let Some(kind) = self.kind(&name) else {
            return self.fail(
                STATES_RUNTIME,
                &format!("the state {name:?} does not exist"),
            );
        };
        let entered = self.event(
            &format!("{}StateEntered", kind.type_name()),
            Some(&name),
            json!({ "input": input }),
        )?;
        if entered >= MAX_HISTORY_EVENTS {
            let cause =
                format!("the execution reached the limit of {MAX_HISTORY_EVENTS} history events");
            return self.fail(STATES_RUNTIME, &cause);
        }
        self.exec.state = Some(name.clone());
        self.exec.state_input = input;
        self.exec.state_entered_at = self.now;
        self.exec.retry_count = 0;
        self.exec.retry_at = None;
        self.exec.retry_attempts = match kind {
            StateKind::Task(task) => vec![0; task.retry.len()],
            _ => Vec::new(),
        };
        let raw = self.exec.state_input.clone();
        match kind {
            StateKind::Task(_) => self.schedule(&name),
            StateKind::Pass(pass) => {
                let output = pass.input_path.apply(raw.clone()).and_then(|effective| {
                    let result = match (&pass.result, &pass.parameters) {
                        (Some(result), _) => result.clone(),
                        (None, Some(parameters)) => {
                            parameters.render(&effective, &self.context(&name, None))?
                        }
                        (None, None) => effective,
                    };
                    pass.output_path.apply(pass.result_path.apply(raw, result)?)
                });
                match output {
                    Ok(output) => self.exit(&name, &pass.transition, output),
                    Err(e) => self.path_failed(&name, &e),
                }
            }
            StateKind::Choice(choice) => {
                let effective = match choice.input_path.apply(raw) {
                    Ok(effective) => effective,
                    Err(e) => return self.path_failed(&name, &e),
                };
                let context = self.context(&name, None);
                let mut chosen = None;
                for (rule, next) in &choice.choices {
                    match rule.evaluate(&effective, &context) {
                        Ok(true) => {
                            chosen = Some(next);
                            break;
                        }
                        Ok(false) => {}
                        Err(e) => return self.path_failed(&name, &e),
                    }
                }
                let Some(next) = chosen.or(choice.default.as_ref()) else {
                    let cause = format!("no Choice rule of {name:?} matched and it has no Default");
                    return self.fail(STATES_NO_CHOICE_MATCHED, &cause);
                };
                match choice.output_path.apply(effective) {
                    Ok(output) => self.exit(&name, &Transition::Next(next.clone()), output),
                    Err(e) => self.path_failed(&name, &e),
                }
            }
            StateKind::Succeed(succeed) => {
                match succeed
                    .input_path
                    .apply(raw)
                    .and_then(|v| succeed.output_path.apply(v))
                {
                    Ok(output) => self.exit(&name, &Transition::End, output),
                    Err(e) => self.path_failed(&name, &e),
                }
            }
            StateKind::Fail(fail) => {
                let context = self.context(&name, None);
                let read = |text: &Option<Text>| -> Result<Option<String>, PathError> {
                    match text {
                        None => Ok(None),
                        Some(Text::Literal(s)) => Ok(Some(s.clone())),
                        Some(Text::Path(p)) => {
                            let value = p.read(&raw, &context)?;
                            value.as_str().map(|s| Some(s.to_owned())).ok_or_else(|| {
                                PathError(format!("the path {} does not select a string", p.text()))
                            })
                        }
                    }
                };
                match (read(&fail.error), read(&fail.cause)) {
                    (Ok(error), Ok(cause)) => {
                        self.finish(FAILED, None, error.as_deref(), cause.as_deref())?;
                        Ok(Next::Wait)
                    }
                    (Err(e), _) | (_, Err(e)) => self.path_failed(&name, &e),
                }
            }
        }
    }

    pub(super) fn exit(
        &mut self,
        name: &str,
        transition: &Transition,
        output: Value,
    ) -> rusqlite::Result<Next> {
        let type_name = self.kind(name).map_or("Task", StateKind::type_name);
        self.event(
            &format!("{type_name}StateExited"),
            Some(name),
            json!({ "output": output }),
        )?;
        match transition {
            Transition::Next(next) => Ok(Next::Enter(next.clone(), output)),
            Transition::End => {
                self.finish(SUCCEEDED, Some(&output), None, None)?;
                Ok(Next::Wait)
            }
        }
    }
}
