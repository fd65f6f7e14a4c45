//! Adapters for one machine: files for objects, SQLite for records and queues.
