//! Reads a `vetted serve` data directory's database from the test, read-only and beside the
//! running server (WAL lets a reader in another process see every committed transaction):
//! records, the event outbox, the workflow engine's executions, queues and dead letters.
//!
//! Plain SQL on the tables the embedded adapters create (`crates/embedded/src/**`), so that
//! what the test checks does not go through the code under test.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

/// A read-only connection to `{data}/vetted.db`.
pub fn open(data: &Path) -> Connection {
    let path = data.join("vetted.db");
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy timeout");
    conn
}

/// One row of `uploads`, the columns the tests look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub owner: String,
    pub status: String,
    pub reason: Option<String>,
    pub moderator: Option<String>,
    pub decision: Option<String>,
    pub object_key: String,
}

const ROW_COLUMNS: &str = "id, owner, status, reason, moderator, decision, object_key";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        owner: r.get(1)?,
        status: r.get(2)?,
        reason: r.get(3)?,
        moderator: r.get(4)?,
        decision: r.get(5)?,
        object_key: r.get(6)?,
    })
}

/// Every upload record.
pub fn uploads(conn: &Connection) -> Vec<Row> {
    conn.prepare(&format!("SELECT {ROW_COLUMNS} FROM uploads ORDER BY id"))
        .expect("uploads query")
        .query_map([], row)
        .expect("uploads rows")
        .collect::<Result<_, _>>()
        .expect("uploads rows")
}

/// One upload's record, if there is one.
pub fn upload(conn: &Connection, id: &str) -> Option<Row> {
    conn.query_row(
        &format!("SELECT {ROW_COLUMNS} FROM uploads WHERE id = ?1"),
        [id],
        row,
    )
    .optional()
    .expect("upload query")
}

/// Every event in the outbox as (upload id, event id, type, body), in publication order.
pub fn outbox(conn: &Connection) -> Vec<(String, String, String, String)> {
    conn.prepare("SELECT upload_id, id, event_type, body FROM outbox_events ORDER BY seq")
        .expect("outbox query")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("outbox rows")
        .collect::<Result<_, _>>()
        .expect("outbox rows")
}

/// Every webhook delivery as (event id, status, attempts), oldest first.
pub fn webhook_deliveries(conn: &Connection) -> Vec<(String, String, i64)> {
    conn.prepare(
        "SELECT event_id, status, attempts FROM webhook_deliveries ORDER BY created_at, id",
    )
    .expect("deliveries query")
    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    .expect("delivery rows")
    .collect::<Result<_, _>>()
    .expect("delivery rows")
}

/// Events of the outbox not yet handed to the notifier, and webhook deliveries not yet made:
/// what a kill right now could lose if either were not durable.
pub fn undelivered(conn: &Connection) -> (i64, i64) {
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get(0)).expect("count query");
    (
        count("SELECT COUNT(*) FROM outbox_events WHERE delivered_at IS NULL"),
        count("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'"),
    )
}

/// Every workflow execution's name and status. An execution's name starts with its upload id
/// (`{upload_id}-{hash of the object version}`).
pub fn executions(conn: &Connection) -> Vec<(String, String)> {
    conn.prepare("SELECT name, status FROM wf_executions ORDER BY name")
        .expect("executions query")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("execution rows")
        .collect::<Result<_, _>>()
        .expect("execution rows")
}

/// Messages that gave up: (queue, body).
pub fn dead_letters(conn: &Connection) -> Vec<(String, String)> {
    conn.prepare("SELECT queue, body FROM queue_dead_letters ORDER BY seq")
        .expect("dead letters query")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("dead letter rows")
        .collect::<Result<_, _>>()
        .expect("dead letter rows")
}

/// Messages of `queue` received and not yet acknowledged (hidden until `visible_at`).
pub fn in_flight(conn: &Connection, queue: &str, now_ms: i64) -> i64 {
    conn.query_row(
        "SELECT COUNT(*) FROM queue_messages
         WHERE queue = ?1 AND receipt IS NOT NULL AND visible_at > ?2",
        rusqlite::params![queue, now_ms],
        |r| r.get(0),
    )
    .expect("in-flight query")
}

/// `PRAGMA integrity_check` and `foreign_key_check`: empty when the file is sound.
pub fn integrity_problems(conn: &Connection) -> Vec<String> {
    let mut problems: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .expect("integrity_check")
        .query_map([], |r| r.get::<_, String>(0))
        .expect("integrity_check rows")
        .collect::<Result<Vec<_>, _>>()
        .expect("integrity_check rows")
        .into_iter()
        .filter(|line| line != "ok")
        .collect();
    let foreign: Vec<String> = conn
        .prepare("PRAGMA foreign_key_check")
        .expect("foreign_key_check")
        .query_map([], |r| {
            Ok(format!(
                "foreign key: {} row {:?} refers to a missing {}",
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, String>(2)?
            ))
        })
        .expect("foreign_key_check rows")
        .collect::<Result<_, _>>()
        .expect("foreign_key_check rows");
    problems.extend(foreign);
    problems
}

/// Milliseconds since the epoch, as the queue's `visible_at` counts them.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(since.as_millis()).expect("fits")
}
