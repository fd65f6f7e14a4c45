//! `SqliteUploads`: the record store port over SQLite, transitions in transactions.
