//! The engine's tables: definitions, executions with their current position, their history,
//! and the tasks they wait on. Every function here runs inside the caller's transaction.

mod tasks;

pub(crate) use tasks::*;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::db::Migration;

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    sql: "
        CREATE TABLE wf_definitions (
            hash TEXT PRIMARY KEY,
            text TEXT NOT NULL,
            stored_at INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE wf_executions (
            name TEXT PRIMARY KEY,
            definition TEXT NOT NULL REFERENCES wf_definitions (hash),
            input TEXT NOT NULL,
            status TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            stopped_at INTEGER,
            output TEXT,
            error TEXT,
            cause TEXT,
            -- Where a running execution is: its current state, that state's raw input, when
            -- it was entered, and the Retry bookkeeping of the current attempt.
            state TEXT,
            state_input TEXT,
            state_entered_at INTEGER,
            retry_attempts TEXT NOT NULL DEFAULT '[]',
            retry_count INTEGER NOT NULL DEFAULT 0,
            retry_at INTEGER
        ) STRICT;
        CREATE INDEX wf_executions_retry_due ON wf_executions (retry_at)
            WHERE retry_at IS NOT NULL;
        CREATE INDEX wf_executions_running ON wf_executions (status, definition);
        CREATE TABLE wf_history (
            execution TEXT NOT NULL REFERENCES wf_executions (name),
            id INTEGER NOT NULL,
            at INTEGER NOT NULL,
            type TEXT NOT NULL,
            state TEXT,
            detail TEXT NOT NULL,
            PRIMARY KEY (execution, id)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE wf_tasks (
            token TEXT PRIMARY KEY,
            execution TEXT NOT NULL UNIQUE REFERENCES wf_executions (name),
            state TEXT NOT NULL,
            queue TEXT NOT NULL,
            body TEXT NOT NULL,
            wait_for_token INTEGER NOT NULL,
            dispatched INTEGER NOT NULL DEFAULT 0,
            scheduled_at INTEGER NOT NULL,
            timeout_at INTEGER,
            heartbeat_seconds INTEGER,
            heartbeat_at INTEGER
        ) STRICT;
        CREATE INDEX wf_tasks_undispatched ON wf_tasks (scheduled_at) WHERE dispatched = 0;
        CREATE INDEX wf_tasks_timeout ON wf_tasks (timeout_at) WHERE timeout_at IS NOT NULL;
        CREATE INDEX wf_tasks_heartbeat ON wf_tasks (heartbeat_at) WHERE heartbeat_at IS NOT NULL;
    ",
}];

pub(crate) const RUNNING: &str = "RUNNING";
pub(crate) const SUCCEEDED: &str = "SUCCEEDED";
pub(crate) const FAILED: &str = "FAILED";

/// The most history events one execution may have, as on Step Functions.
pub(crate) const MAX_HISTORY_EVENTS: i64 = 25_000;

fn json_column(text: String) -> rusqlite::Result<Value> {
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// A running execution's position, as the interpreter reads and writes it.
#[derive(Debug, Clone)]
pub(crate) struct ExecutionRow {
    pub(crate) name: String,
    pub(crate) definition: String,
    pub(crate) input: Value,
    pub(crate) status: String,
    pub(crate) started_at: i64,
    pub(crate) state: Option<String>,
    pub(crate) state_input: Value,
    pub(crate) state_entered_at: i64,
    pub(crate) retry_attempts: Vec<u64>,
    pub(crate) retry_count: u64,
    pub(crate) retry_at: Option<i64>,
}

pub(crate) fn store_definition(
    conn: &Connection,
    hash: &str,
    text: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO wf_definitions (hash, text, stored_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (hash) DO NOTHING",
    )?
    .execute(params![hash, text, now])?;
    Ok(())
}

/// The definitions that running executions use, other than `current`.
pub(crate) fn running_definitions(
    conn: &Connection,
    current: &str,
) -> rusqlite::Result<Vec<(String, String)>> {
    conn.prepare(
        "SELECT d.hash, d.text FROM wf_definitions d
         WHERE d.hash != ?1 AND EXISTS (
             SELECT 1 FROM wf_executions e WHERE e.status = 'RUNNING' AND e.definition = d.hash)",
    )?
    .query_map([current], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect()
}

pub(crate) fn execution_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM wf_executions WHERE name = ?1")?
        .query_row([name], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
}

pub(crate) fn insert_execution(conn: &Connection, row: &ExecutionRow) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO wf_executions (name, definition, input, status, started_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        row.name,
        row.definition,
        row.input.to_string(),
        row.status,
        row.started_at
    ])?;
    Ok(())
}

pub(crate) fn load_execution(
    conn: &Connection,
    name: &str,
) -> rusqlite::Result<Option<ExecutionRow>> {
    let row = conn
        .prepare_cached(
            "SELECT definition, input, status, started_at, state, state_input, state_entered_at,
                    retry_attempts, retry_count, retry_at
             FROM wf_executions WHERE name = ?1",
        )?
        .query_row([name], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, Option<i64>>(9)?,
            ))
        })
        .optional()?;
    let Some((
        definition,
        input,
        status,
        started_at,
        state,
        state_input,
        entered,
        attempts,
        count,
        retry_at,
    )) = row
    else {
        return Ok(None);
    };
    let attempts = json_column(attempts)?;
    Ok(Some(ExecutionRow {
        name: name.to_owned(),
        definition,
        input: json_column(input)?,
        status,
        started_at,
        state,
        state_input: state_input
            .map(json_column)
            .transpose()?
            .unwrap_or(Value::Null),
        state_entered_at: entered.unwrap_or(started_at),
        retry_attempts: attempts
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default(),
        retry_count: u64::try_from(count).unwrap_or(0),
        retry_at,
    }))
}

/// Writes where a running execution is and when it retries.
pub(crate) fn save_position(conn: &Connection, row: &ExecutionRow) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE wf_executions SET state = ?2, state_input = ?3, state_entered_at = ?4,
             retry_attempts = ?5, retry_count = ?6, retry_at = ?7
         WHERE name = ?1",
    )?
    .execute(params![
        row.name,
        row.state,
        row.state_input.to_string(),
        row.state_entered_at,
        Value::from(row.retry_attempts.clone()).to_string(),
        i64::try_from(row.retry_count).unwrap_or(i64::MAX),
        row.retry_at,
    ])?;
    Ok(())
}

pub(crate) fn finish_execution(
    conn: &Connection,
    name: &str,
    status: &str,
    output: Option<&Value>,
    error: Option<&str>,
    cause: Option<&str>,
    now: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE wf_executions SET status = ?2, output = ?3, error = ?4, cause = ?5, stopped_at = ?6,
             state = NULL, state_input = NULL, retry_at = NULL
         WHERE name = ?1",
    )?
    .execute(params![name, status, output.map(Value::to_string), error, cause, now])?;
    conn.prepare_cached("DELETE FROM wf_tasks WHERE execution = ?1")?
        .execute([name])?;
    Ok(())
}

/// Appends one history event and returns how many the execution now has.
pub(crate) fn append_history(
    conn: &Connection,
    execution: &str,
    at: i64,
    event_type: &str,
    state: Option<&str>,
    detail: &Value,
) -> rusqlite::Result<i64> {
    let id: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(id), 0) + 1 FROM wf_history WHERE execution = ?1")?
        .query_row([execution], |r| r.get(0))?;
    conn.prepare_cached(
        "INSERT INTO wf_history (execution, id, at, type, state, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        execution,
        id,
        at,
        event_type,
        state,
        detail.to_string()
    ])?;
    Ok(id)
}
