//! What operators and tests can see of an execution: its description and its history, with
//! the event types Step Functions uses (`TaskStateEntered`, `TaskScheduled`, ...).

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;
use vetted_core::Timestamp;

use super::store::{FAILED, RUNNING, SUCCEEDED};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
}

impl ExecutionStatus {
    fn parse(text: &str) -> Option<Self> {
        match text {
            RUNNING => Some(Self::Running),
            SUCCEEDED => Some(Self::Succeeded),
            FAILED => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One execution, as `DescribeExecution` would show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionDescription {
    pub name: String,
    pub status: ExecutionStatus,
    pub input: Value,
    /// Set once the execution succeeded.
    pub output: Option<Value>,
    /// Set once the execution failed.
    pub error: Option<String>,
    pub cause: Option<String>,
    pub started_at: Timestamp,
    pub stopped_at: Option<Timestamp>,
    /// While running: the state it is in.
    pub current_state: Option<String>,
    /// While running: when a Retry will run the current Task state again.
    pub retry_at: Option<Timestamp>,
    /// The SHA-256 of the definition it runs.
    pub definition: String,
}

/// One event of an execution's history. Task tokens never appear in it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEvent {
    /// 1, 2, 3, ... per execution.
    pub id: i64,
    pub at: Timestamp,
    /// Step Functions' name for the event: `ExecutionStarted`, `TaskStateEntered`,
    /// `TaskScheduled`, `TaskSubmitted`, `TaskSucceeded`, `TaskFailed`, `TaskTimedOut`,
    /// `ChoiceStateExited`, `ExecutionSucceeded`, `ExecutionFailed`, ...
    pub event_type: String,
    pub state: Option<String>,
    pub detail: Value,
}

impl HistoryEvent {
    /// Whether this event is a state being entered (`...StateEntered`).
    pub fn is_state_entered(&self) -> bool {
        self.event_type.ends_with("StateEntered")
    }
}

fn json(text: Option<String>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

pub(crate) fn describe(
    conn: &Connection,
    name: &str,
) -> rusqlite::Result<Option<ExecutionDescription>> {
    conn.prepare_cached(
        "SELECT status, input, output, error, cause, started_at, stopped_at, state, retry_at,
                definition
         FROM wf_executions WHERE name = ?1",
    )?
    .query_row([name], |r| {
        let status: String = r.get(0)?;
        Ok(ExecutionDescription {
            name: name.to_owned(),
            status: ExecutionStatus::parse(&status).unwrap_or(ExecutionStatus::Failed),
            input: json(r.get(1)?).unwrap_or(Value::Null),
            output: json(r.get(2)?),
            error: r.get(3)?,
            cause: r.get(4)?,
            started_at: Timestamp::from_unix_millis(r.get(5)?),
            stopped_at: r.get::<_, Option<i64>>(6)?.map(Timestamp::from_unix_millis),
            current_state: r.get(7)?,
            retry_at: r.get::<_, Option<i64>>(8)?.map(Timestamp::from_unix_millis),
            definition: r.get(9)?,
        })
    })
    .optional()
}

pub(crate) fn history(conn: &Connection, name: &str) -> rusqlite::Result<Vec<HistoryEvent>> {
    conn.prepare_cached(
        "SELECT id, at, type, state, detail FROM wf_history WHERE execution = ?1 ORDER BY id",
    )?
    .query_map([name], |r| {
        Ok(HistoryEvent {
            id: r.get(0)?,
            at: Timestamp::from_unix_millis(r.get(1)?),
            event_type: r.get(2)?,
            state: r.get(3)?,
            detail: json(r.get(4)?).unwrap_or(Value::Null),
        })
    })?
    .collect()
}
