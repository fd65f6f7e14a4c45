//! The interpreter: moves one execution through its states inside one SQLite transaction.
//!
//! Each entry point (start, a task's answer, a timeout, a due retry, a completed send) runs the
//! execution forward until it must wait (a Task was scheduled, or a Retry delay began) or ends,
//! writing every step and history event in the caller's transaction. So a crash leaves an
//! execution either where it was or where it next waits, never between two states.

mod states;
mod task;

use std::collections::HashSet;

use rusqlite::Connection;
use serde_json::{Value, json};
use vetted_core::Timestamp;

use super::definition::{Definition, StateKind};
use super::errors::{STATES_HEARTBEAT_TIMEOUT, STATES_RUNTIME, STATES_TIMEOUT};
use super::paths::PathError;
use super::store::{self, ExecutionRow, FAILED, RUNNING, SUCCEEDED, TaskRow};
use super::task_def::TaskState;

/// A task message to hand to its queue once the transaction has committed.
#[derive(Debug, Clone)]
pub(crate) struct Dispatch {
    pub(crate) token: String,
    pub(crate) queue: String,
    pub(crate) body: String,
}

/// What a transaction left for the engine to do after it commits.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub(crate) dispatches: Vec<Dispatch>,
    /// A timeout, heartbeat or retry deadline was set: the runner should look again.
    pub(crate) deadlines_changed: bool,
}

/// Why a timer fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overdue {
    Timeout,
    Heartbeat,
}

enum Next {
    Enter(String, Value),
    Wait,
}

pub(crate) struct Machine<'a> {
    conn: &'a Connection,
    def: &'a Definition,
    queues: &'a HashSet<String>,
    machine_name: &'a str,
    now: i64,
    exec: ExecutionRow,
    effects: &'a mut Effects,
}

/// 256 random bits: a task token nobody can guess.
pub(crate) fn new_token() -> rusqlite::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    Ok(hex::encode(bytes))
}

fn rfc3339(millis: i64) -> String {
    Timestamp::from_unix_millis(millis).to_rfc3339()
}

impl<'a> Machine<'a> {
    pub(crate) fn new(
        conn: &'a Connection,
        def: &'a Definition,
        queues: &'a HashSet<String>,
        machine_name: &'a str,
        now: i64,
        exec: ExecutionRow,
        effects: &'a mut Effects,
    ) -> Self {
        Self {
            conn,
            def,
            queues,
            machine_name,
            now,
            exec,
            effects,
        }
    }

    /// Starts a new execution (its row is inserted here) at the definition's first state.
    pub(crate) fn start(mut self) -> rusqlite::Result<()> {
        store::insert_execution(self.conn, &self.exec)?;
        let input = self.exec.input.clone();
        self.event("ExecutionStarted", None, json!({ "input": input }))?;
        let first = self.def.start_at.clone();
        self.run(Next::Enter(first, input))
    }

    /// The waiting task `task` was answered with `output`.
    pub(crate) fn task_succeeded(mut self, task: &TaskRow, output: Value) -> rusqlite::Result<()> {
        store::delete_task(self.conn, &task.token)?;
        self.event(
            "TaskSucceeded",
            Some(&task.state),
            json!({ "output": output }),
        )?;
        let next = self.complete(&task.state, output)?;
        self.run(next)
    }

    /// The waiting task `task` failed with `error`.
    pub(crate) fn task_failed(
        mut self,
        task: &TaskRow,
        error: &str,
        cause: &str,
    ) -> rusqlite::Result<()> {
        store::delete_task(self.conn, &task.token)?;
        self.event(
            "TaskFailed",
            Some(&task.state),
            json!({ "error": error, "cause": cause }),
        )?;
        let next = self.handle_error(&task.state, error, cause)?;
        self.run(next)
    }

    /// `task` missed its deadline.
    pub(crate) fn task_timed_out(mut self, task: &TaskRow, why: Overdue) -> rusqlite::Result<()> {
        store::delete_task(self.conn, &task.token)?;
        let error = match why {
            Overdue::Timeout => STATES_TIMEOUT,
            Overdue::Heartbeat => STATES_HEARTBEAT_TIMEOUT,
        };
        self.event(
            "TaskTimedOut",
            Some(&task.state),
            json!({ "error": error, "cause": "" }),
        )?;
        let next = self.handle_error(&task.state, error, "")?;
        self.run(next)
    }

    /// A task without `.waitForTaskToken` was handed to its queue: it is done.
    pub(crate) fn message_sent(mut self, task: &TaskRow) -> rusqlite::Result<()> {
        store::delete_task(self.conn, &task.token)?;
        let result = json!({ "MessageId": task.token });
        self.event(
            "TaskSucceeded",
            Some(&task.state),
            json!({ "output": result }),
        )?;
        let next = self.complete(&task.state, result)?;
        self.run(next)
    }

    /// The Retry delay of the current Task state has passed: run it again.
    pub(crate) fn retry_due(mut self) -> rusqlite::Result<()> {
        self.exec.retry_at = None;
        let Some(state) = self.exec.state.clone() else {
            return Ok(());
        };
        let next = self.schedule(&state)?;
        self.run(next)
    }

    fn run(&mut self, mut next: Next) -> rusqlite::Result<()> {
        while let Next::Enter(state, input) = next {
            next = self.enter(state, input)?;
        }
        Ok(())
    }

    fn kind(&self, state: &str) -> Option<&'a StateKind> {
        self.def.states.get(state)
    }

    fn context(&self, state: &str, token: Option<&str>) -> Value {
        let mut context = json!({
            "Execution": {
                "Id": format!("embedded:{}:{}", self.machine_name, self.exec.name),
                "Name": self.exec.name,
                "Input": self.exec.input,
                "StartTime": rfc3339(self.exec.started_at),
            },
            "State": {
                "Name": state,
                "EnteredTime": rfc3339(self.exec.state_entered_at),
                "RetryCount": self.exec.retry_count,
            },
            "StateMachine": {
                "Id": format!("embedded:{}", self.machine_name),
                "Name": self.machine_name,
            },
        });
        if let Some(token) = token {
            context["Task"] = json!({ "Token": token });
        }
        context
    }

    fn event(
        &mut self,
        event_type: &str,
        state: Option<&str>,
        detail: Value,
    ) -> rusqlite::Result<i64> {
        store::append_history(
            self.conn,
            &self.exec.name,
            self.now,
            event_type,
            state,
            &detail,
        )
    }

    fn task(&self, name: &str) -> Option<&'a TaskState> {
        match self.kind(name)? {
            StateKind::Task(task) => Some(task),
            _ => None,
        }
    }

    fn path_failed(&mut self, state: &str, e: &PathError) -> rusqlite::Result<Next> {
        self.fail(
            STATES_RUNTIME,
            &format!("an error occurred while executing the state {state:?}: {e}"),
        )
    }

    fn fail(&mut self, error: &str, cause: &str) -> rusqlite::Result<Next> {
        self.finish(FAILED, None, Some(error), Some(cause))?;
        Ok(Next::Wait)
    }

    fn finish(
        &mut self,
        status: &str,
        output: Option<&Value>,
        error: Option<&str>,
        cause: Option<&str>,
    ) -> rusqlite::Result<()> {
        debug_assert_ne!(status, RUNNING);
        store::finish_execution(
            self.conn,
            &self.exec.name,
            status,
            output,
            error,
            cause,
            self.now,
        )?;
        let (event_type, detail) = if status == SUCCEEDED {
            ("ExecutionSucceeded", json!({ "output": output }))
        } else {
            ("ExecutionFailed", json!({ "error": error, "cause": cause }))
        };
        self.event(event_type, None, detail)?;
        Ok(())
    }
}
