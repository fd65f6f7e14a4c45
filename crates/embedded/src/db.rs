//! Opening the SQLite database: pragmas, schema migrations, a blocking-pool bridge.
