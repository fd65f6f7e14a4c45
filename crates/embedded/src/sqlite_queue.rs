//! `SqliteWorkQueue`: a durable work queue in SQLite with visibility timeouts and a dead-letter table.
