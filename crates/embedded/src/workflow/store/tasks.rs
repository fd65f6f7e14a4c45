//! The tasks executions wait on: their tokens, their messages (owed until sent), and their
//! timeout and heartbeat deadlines.

use rusqlite::{Connection, OptionalExtension, params};

/// A task an execution waits on (or, without `.waitForTaskToken`, is about to send).
#[derive(Debug, Clone)]
pub(crate) struct TaskRow {
    pub(crate) token: String,
    pub(crate) execution: String,
    pub(crate) state: String,
    pub(crate) queue: String,
    pub(crate) body: String,
    pub(crate) wait_for_token: bool,
    pub(crate) timeout_at: Option<i64>,
    pub(crate) heartbeat_seconds: Option<i64>,
    pub(crate) heartbeat_at: Option<i64>,
}

pub(crate) fn insert_task(conn: &Connection, task: &TaskRow, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO wf_tasks (token, execution, state, queue, body, wait_for_token, scheduled_at,
             timeout_at, heartbeat_seconds, heartbeat_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        task.token,
        task.execution,
        task.state,
        task.queue,
        task.body,
        task.wait_for_token,
        now,
        task.timeout_at,
        task.heartbeat_seconds,
        task.heartbeat_at,
    ])?;
    Ok(())
}

fn task_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TaskRow> {
    Ok(TaskRow {
        token: r.get(0)?,
        execution: r.get(1)?,
        state: r.get(2)?,
        queue: r.get(3)?,
        body: r.get(4)?,
        wait_for_token: r.get(5)?,
        timeout_at: r.get(6)?,
        heartbeat_seconds: r.get(7)?,
        heartbeat_at: r.get(8)?,
    })
}

const TASK_COLUMNS: &str = "token, execution, state, queue, body, wait_for_token, timeout_at,
    heartbeat_seconds, heartbeat_at";

pub(crate) fn find_task(conn: &Connection, token: &str) -> rusqlite::Result<Option<TaskRow>> {
    conn.prepare_cached(&format!(
        "SELECT {TASK_COLUMNS} FROM wf_tasks WHERE token = ?1"
    ))?
    .query_row([token], task_from_row)
    .optional()
}

pub(crate) fn delete_task(conn: &Connection, token: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM wf_tasks WHERE token = ?1")?
        .execute([token])?;
    Ok(())
}

/// Marks a task as sent; false if it no longer exists or was marked already.
pub(crate) fn mark_dispatched(conn: &Connection, token: &str) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached("UPDATE wf_tasks SET dispatched = 1 WHERE token = ?1 AND dispatched = 0")?
        .execute([token])?;
    Ok(changed > 0)
}

pub(crate) fn is_dispatched(conn: &Connection, token: &str) -> rusqlite::Result<Option<bool>> {
    conn.prepare_cached("SELECT dispatched FROM wf_tasks WHERE token = ?1")?
        .query_row([token], |r| r.get(0))
        .optional()
}

pub(crate) fn undispatched(conn: &Connection, limit: i64) -> rusqlite::Result<Vec<TaskRow>> {
    conn.prepare_cached(&format!(
        "SELECT {TASK_COLUMNS} FROM wf_tasks WHERE dispatched = 0 ORDER BY scheduled_at LIMIT ?1"
    ))?
    .query_map([limit], task_from_row)?
    .collect()
}

/// Pushes a waiting task's heartbeat deadline forward; false if no such task waits.
pub(crate) fn beat(conn: &Connection, token: &str, now: i64) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE wf_tasks SET heartbeat_at = CASE WHEN heartbeat_seconds IS NULL THEN NULL
                 ELSE ?2 + heartbeat_seconds * 1000 END
             WHERE token = ?1 AND wait_for_token = 1",
        )?
        .execute(params![token, now])?;
    Ok(changed > 0)
}

/// Tokens of tasks whose timeout or heartbeat deadline has passed.
pub(crate) fn overdue_tasks(
    conn: &Connection,
    now: i64,
    limit: i64,
) -> rusqlite::Result<Vec<String>> {
    conn.prepare_cached(
        "SELECT token FROM wf_tasks WHERE timeout_at <= ?1
         UNION SELECT token FROM wf_tasks WHERE heartbeat_at <= ?1 LIMIT ?2",
    )?
    .query_map(params![now, limit], |r| r.get(0))?
    .collect()
}

/// Executions whose Retry delay has passed.
pub(crate) fn due_retries(
    conn: &Connection,
    now: i64,
    limit: i64,
) -> rusqlite::Result<Vec<String>> {
    conn.prepare_cached(
        "SELECT name FROM wf_executions WHERE retry_at <= ?1 ORDER BY retry_at LIMIT ?2",
    )?
    .query_map(params![now, limit], |r| r.get(0))?
    .collect()
}

/// The earliest timeout, heartbeat or retry deadline, if any.
pub(crate) fn next_deadline(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT MIN(at) FROM (
             SELECT MIN(timeout_at) AS at FROM wf_tasks
             UNION ALL SELECT MIN(heartbeat_at) FROM wf_tasks
             UNION ALL SELECT MIN(retry_at) FROM wf_executions)",
    )?
    .query_row([], |r| r.get(0))
}
