//! Task states in the interpreter: scheduling a task's message, completing it with its result,
//! and its errors through Retry and Catch.

use serde_json::{Value, json};

use super::{Dispatch, Machine, Next};
use crate::workflow::definition::Transition;
use crate::workflow::errors::{STATES_RUNTIME, error_matches, is_terminal};
use crate::workflow::paths::PathError;
use crate::workflow::store::{self, TaskRow};
use crate::workflow::task_def::{SEND_MESSAGE, SEND_MESSAGE_WAIT, Seconds};

use super::new_token;

impl Machine<'_> {
    /// Sends the current Task state's message (after commit) and waits for its answer.
    pub(super) fn schedule(&mut self, name: &str) -> rusqlite::Result<Next> {
        let Some(task) = self.task(name) else {
            return self.fail(STATES_RUNTIME, &format!("{name:?} is not a Task state"));
        };
        let raw = self.exec.state_input.clone();
        let effective = match task.input_path.apply(raw) {
            Ok(effective) => effective,
            Err(e) => return self.path_failed(name, &e),
        };
        let token = new_token()?;
        let context = self.context(name, task.wait_for_token.then_some(token.as_str()));
        let parameters = match task.parameters.render(&effective, &context) {
            Ok(parameters) => parameters,
            Err(e) => return self.path_failed(name, &e),
        };
        let seconds = |s: &Option<Seconds>| -> Result<Option<i64>, PathError> {
            match s {
                None => Ok(None),
                Some(Seconds::Fixed(v)) => Ok(Some(i64::try_from(*v).unwrap_or(i64::MAX))),
                Some(Seconds::Path(p)) => {
                    let value = p.read(&effective, &context)?;
                    match value.as_u64().filter(|v| (1..=99_999_999).contains(v)) {
                        Some(v) => Ok(Some(i64::try_from(v).unwrap_or(i64::MAX))),
                        None => Err(PathError(format!(
                            "{} must select a whole number of seconds from 1, not {value}",
                            p.text()
                        ))),
                    }
                }
            }
        };
        let (timeout, heartbeat) = match (seconds(&task.timeout), seconds(&task.heartbeat)) {
            (Ok(t), Ok(h)) => (t, h),
            (Err(e), _) | (_, Err(e)) => return self.path_failed(name, &e),
        };
        let Some(queue) = parameters
            .get("QueueUrl")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return self.path_failed(name, &PathError("QueueUrl must be a string".to_owned()));
        };
        if !self.queues.contains(&queue) {
            let cause = format!("the queue {queue:?} does not exist");
            return self.handle_error(name, "SQS.QueueDoesNotExistException", &cause);
        }
        let body = match parameters.get("MessageBody") {
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let at =
            |seconds: Option<i64>| seconds.map(|s| self.now.saturating_add(s.saturating_mul(1000)));
        let row = TaskRow {
            token: token.clone(),
            execution: self.exec.name.clone(),
            state: name.to_owned(),
            queue: queue.clone(),
            body: body.clone(),
            wait_for_token: task.wait_for_token,
            timeout_at: at(timeout),
            heartbeat_seconds: heartbeat,
            heartbeat_at: at(heartbeat),
        };
        store::insert_task(self.conn, &row, self.now)?;
        // The history keeps what was sent, without the token: it is a secret.
        let shown: Value =
            serde_json::from_str(&parameters.to_string().replace(&token, "<task token>"))
                .unwrap_or(Value::Null);
        let resource = if task.wait_for_token {
            SEND_MESSAGE_WAIT
        } else {
            SEND_MESSAGE
        };
        self.event(
            "TaskScheduled",
            Some(name),
            json!({ "resource": resource, "parameters": shown,
                    "timeoutInSeconds": timeout, "heartbeatInSeconds": heartbeat }),
        )?;
        store::save_position(self.conn, &self.exec)?;
        self.effects.deadlines_changed |= timeout.is_some() || heartbeat.is_some();
        self.effects
            .dispatches
            .push(Dispatch { token, queue, body });
        Ok(Next::Wait)
    }

    /// ResultSelector, ResultPath and OutputPath on a task's result, then on to the next state.
    pub(super) fn complete(&mut self, name: &str, result: Value) -> rusqlite::Result<Next> {
        let Some(task) = self.task(name) else {
            return self.fail(STATES_RUNTIME, &format!("{name:?} is not a Task state"));
        };
        let raw = self.exec.state_input.clone();
        let context = self.context(name, None);
        let output = match &task.result_selector {
            Some(selector) => selector.render(&result, &context),
            None => Ok(result),
        }
        .and_then(|selected| task.result_path.apply(raw, selected))
        .and_then(|merged| task.output_path.apply(merged));
        match output {
            Ok(output) => self.exit(name, &task.transition, output),
            Err(e) => self.path_failed(name, &e),
        }
    }

    /// Retry, then Catch, then fail the execution.
    pub(super) fn handle_error(
        &mut self,
        name: &str,
        error: &str,
        cause: &str,
    ) -> rusqlite::Result<Next> {
        let Some(task) = self.task(name) else {
            return self.fail(error, cause);
        };
        if is_terminal(error) {
            return self.fail(error, cause);
        }
        if let Some(i) = task
            .retry
            .iter()
            .position(|r| error_matches(&r.error_equals, error))
        {
            let retrier = &task.retry[i];
            self.exec.retry_attempts.resize(task.retry.len(), 0);
            let attempt = self.exec.retry_attempts[i];
            if attempt < retrier.max_attempts {
                let exponent = i32::try_from(attempt).unwrap_or(i32::MAX);
                let mut delay =
                    retrier.interval_seconds as f64 * retrier.backoff_rate.powi(exponent);
                if let Some(max) = retrier.max_delay_seconds {
                    delay = delay.min(max as f64);
                }
                if retrier.full_jitter {
                    delay *= f64::from(getrandom::u32().unwrap_or(u32::MAX)) / f64::from(u32::MAX);
                }
                self.exec.retry_attempts[i] += 1;
                self.exec.retry_count += 1;
                self.exec.retry_at = Some(self.now.saturating_add((delay * 1000.0) as i64));
                store::save_position(self.conn, &self.exec)?;
                self.effects.deadlines_changed = true;
                return Ok(Next::Wait);
            }
        }
        if let Some(catcher) = task
            .catch
            .iter()
            .find(|c| error_matches(&c.error_equals, error))
        {
            let caught = json!({ "Error": error, "Cause": cause });
            return match catcher
                .result_path
                .apply(self.exec.state_input.clone(), caught)
            {
                Ok(output) => self.exit(name, &Transition::Next(catcher.next.clone()), output),
                Err(e) => self.path_failed(name, &e),
            };
        }
        self.fail(error, cause)
    }
}
