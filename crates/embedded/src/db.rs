//! Opening the SQLite database: pragmas, schema migrations, a blocking-pool bridge.
//!
//! One file holds everything `vetted serve` keeps (records, queues, and later the event outbox
//! and the workflow engine's executions), so that one transaction can span them and one backup
//! copies them all.
//!
//! # Connections: one writer thread, a few readers
//!
//! SQLite allows one writer at a time whatever we do, so every write goes to a single
//! connection owned by a dedicated thread ([`Db::call`]); callers queue closures to it over a
//! channel and await the answer. Compared with a `Mutex<Connection>` taken on `spawn_blocking`,
//! waiting writers cost a queued closure, not a blocked pool thread each, and they are served
//! in order. Reads that need no write lock ([`Db::read`]) run on a small pool of read-only
//! connections on the blocking pool; in WAL mode they never wait for the writer and always see
//! every transaction committed before they start. With `synchronous=NORMAL` a commit is an
//! append to the WAL without an fsync, so the writer's cost is SQLite's own work plus one
//! thread hand-off per call; 1000 uploads/s at ~10–20 writes per upload needs 10–20 thousand
//! of them a second from this one thread. `benches/sqlite.rs` measures it (`cargo bench -p
//! vetted-embedded --bench sqlite`).
//!
//! # Batches: several calls per transaction
//!
//! The writer applies the calls waiting in its queue together, up to [`BATCH`] of them, in one
//! `BEGIN IMMEDIATE` … `COMMIT` (group commit), so that a page several calls touch is written
//! to the WAL once per batch instead of once per call. Each call still gets its own result:
//! it runs inside a savepoint of its own, released if it returns `Ok` and rolled back if it
//! returns an error or panics, so a failing call is applied not at all and never undoes or
//! fails the others. A call's transaction ([`immediate`]) is then a savepoint inside the
//! batch's transaction, which already holds the write lock. Answers are sent only after the
//! `COMMIT`, so a caller that got `Ok` finds its write committed (and visible to readers),
//! exactly as before; a failed `COMMIT` is every call's error. The one way a call can fail
//! the others is an error after which SQLite itself rolls the whole transaction back (disk
//! full, an I/O error): the calls of the batch applied before it are then answered with that
//! error too, and the rest run in a new transaction. When the batch's transaction cannot be
//! opened (the lock held by another process past the busy timeout), the calls run one by one,
//! each in its own transaction, as they did before batches.
//!
//! # Durability
//!
//! WAL with `synchronous=NORMAL` is durable against the process being killed at any moment
//! (`kill -9`, a panic, an OOM kill): a transaction that committed is in the WAL file, in the
//! operating system's hands, before `commit` returns, and the next open replays it. What it
//! does not survive is the machine losing power before the next checkpoint's fsync; that
//! needs `synchronous=FULL` (an fsync per commit) and is not what `vetted serve` promises.
//!
//! # Adding tables
//!
//! Each component owns a list of numbered migrations ([`Migration`]) and a name, registered in
//! [`COMPONENTS`]. To add one (the event outbox, the workflow engine):
//! 1. in your module, `pub(crate) const MIGRATIONS: &[Migration] = &[Migration { version: 1,
//!    sql: "CREATE TABLE ..." }];`
//! 2. add `("your_component", your_module::MIGRATIONS)` to [`COMPONENTS`].
//!
//! To change your schema later, append `version: 2` (never edit a migration that has shipped).
//! [`Db::open`] applies the versions a file lacks, each in its own transaction with the bump of
//! its version in `schema_versions`, so a kill mid-migration leaves the previous version. A file
//! whose version is newer than this build knows is refused rather than misread.

use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Savepoint, Transaction, TransactionBehavior};
use thiserror::Error;
use tokio::sync::{Notify, Semaphore, oneshot};
use vetted_core::ports::BackendError;

/// One step of a component's schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// 1, 2, 3, ... in order, per component.
    pub version: u32,
    pub sql: &'static str,
}

/// Every component's migrations, applied in this order at open.
pub const COMPONENTS: &[(&str, &[Migration])] = &[
    ("uploads", crate::sqlite_uploads::MIGRATIONS),
    ("restaurants", crate::sqlite_restaurants::MIGRATIONS),
    ("queue", crate::sqlite_queue::MIGRATIONS),
    ("workflow", crate::workflow::MIGRATIONS),
    ("outbox", crate::outbox::MIGRATIONS),
    ("webhooks", crate::sqlite_webhooks::MIGRATIONS),
    ("notifications", crate::sqlite_notifications::MIGRATIONS),
    ("accounts", crate::sqlite_accounts::MIGRATIONS),
    ("invitations", crate::sqlite_invitations::MIGRATIONS),
    ("audit", crate::sqlite_audit::MIGRATIONS),
    ("banned", crate::sqlite_banned::MIGRATIONS),
];

/// How long a statement waits for a lock held by another process (an operator command on the
/// same file) before failing with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// At most this many reads run at once, each on its own connection.
const READERS: usize = 4;

/// At most this many queued calls share one transaction of the writer.
pub const BATCH: usize = 64;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create the database directory {path}: {source}")]
    Directory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the database's {component} schema is at version {found}, newer than this build's {known}"
    )]
    SchemaTooNew {
        component: String,
        found: u32,
        known: u32,
    },
    #[error("the database at {0} is not in WAL mode (journal_mode is {1:?})")]
    NotWal(PathBuf, String),
    #[error("cannot start the database writer thread: {0}")]
    WriterThread(#[source] std::io::Error),
    #[error("the database writer has stopped")]
    Closed,
    #[error("a database operation panicked")]
    Panicked,
    /// The transaction that held this call's write, with others, did not commit.
    #[error("the write's transaction did not commit: {message}")]
    Commit { message: String, retryable: bool },
}

impl DbError {
    /// Lock contention (with another process) may clear; everything else will not.
    pub fn is_retryable(&self) -> bool {
        match self {
            DbError::Sqlite(e) => is_contention(e),
            DbError::Commit { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// The batch's failure, as one call's error.
    fn clone_for_call(&self) -> Self {
        match self {
            DbError::Commit { message, retryable } => DbError::Commit {
                message: message.clone(),
                retryable: *retryable,
            },
            other => DbError::Commit {
                message: other.to_string(),
                retryable: other.is_retryable(),
            },
        }
    }

    /// A failure of the batch's transaction, for each call that was in it.
    fn commit(e: &rusqlite::Error) -> Self {
        DbError::Commit {
            message: e.to_string(),
            retryable: is_contention(e),
        }
    }

    /// The port-level error, keeping this one as its source.
    pub fn into_backend(self, operation: &'static str) -> BackendError {
        if self.is_retryable() {
            BackendError::retryable(operation, self)
        } else {
            BackendError::permanent(operation, self)
        }
    }
}

fn is_contention(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(e, _) if matches!(
            e.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        )
    )
}

/// A queued call: runs on the writer connection and says how it went, keeping its answer
/// until its transaction has committed (or not).
type Job = Box<dyn FnOnce(&mut Connection) -> Ran + Send>;

/// A call that has run: whether its writes are to be kept, and how to answer it once the
/// transaction holding them has ended (`None`: committed; `Some`: it did not).
struct Ran {
    ok: bool,
    answer: Answer,
}

/// Sends a call's result to its caller, given the batch's failure if it did not commit.
type Answer = Box<dyn FnOnce(Option<&DbError>) + Send>;

/// A handle on one database file; cheap to clone, shared by every adapter in the process.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<mpsc::Sender<Job>>,
    idle_readers: Mutex<Vec<Connection>>,
    reader_slots: Semaphore,
    signals: Mutex<HashMap<String, Arc<Notify>>>,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl Db {
    /// Opens (creating it and its directory if needed) the database at `path`, applies every
    /// pending migration and starts the writer thread.
    pub async fn open(path: impl AsRef<Path>) -> Result<Db, DbError> {
        let path = path.as_ref().to_path_buf();
        let opened = path.clone();
        let conn = tokio::task::spawn_blocking(move || open_writer(&opened))
            .await
            .map_err(|_| DbError::Panicked)??;
        let (sender, jobs) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || run_writer(conn, jobs))
            .map_err(DbError::WriterThread)?;
        Ok(Db {
            inner: Arc::new(Inner {
                path,
                writer: Mutex::new(sender),
                idle_readers: Mutex::new(Vec::new()),
                reader_slots: Semaphore::new(READERS),
                signals: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the writer connection and returns its result. Use it for anything that
    /// writes; open a transaction inside `f` (see [`immediate`]) when it reads, then writes.
    pub async fn call<R, F>(&self, f: F) -> Result<R, DbError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel::<Result<R, DbError>>();
        let job: Job = Box::new(move |conn| {
            let result = catch_unwind(AssertUnwindSafe(|| f(conn)));
            Ran {
                ok: matches!(result, Ok(Ok(_))),
                answer: Box::new(move |failed: Option<&DbError>| {
                    let result = match (result, failed) {
                        (Ok(Ok(value)), None) => Ok(value),
                        (Ok(Ok(_)), Some(failed)) => Err(failed.clone_for_call()),
                        (Ok(Err(e)), _) => Err(DbError::Sqlite(e)),
                        (Err(_panic), _) => Err(DbError::Panicked),
                    };
                    // The caller may have gone away (its future dropped); the work is done
                    // regardless.
                    let _ = answer.send(result);
                }),
            }
        });
        self.inner
            .writer
            .lock()
            .map_err(|_| DbError::Closed)?
            .send(job)
            .map_err(|_| DbError::Closed)?;
        answered.await.map_err(|_| DbError::Closed)?
    }

    /// Runs `f` on a read-only connection. It sees every transaction committed before it began,
    /// and never waits for the writer.
    pub async fn read<R, F>(&self, f: F) -> Result<R, DbError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let _slot = self
            .inner
            .reader_slots
            .acquire()
            .await
            .map_err(|_| DbError::Closed)?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let idle = inner
                .idle_readers
                .lock()
                .ok()
                .and_then(|mut idle| idle.pop());
            let conn = match idle {
                Some(conn) => conn,
                None => open_reader(&inner.path)?,
            };
            let result = f(&conn);
            if let Ok(mut idle) = inner.idle_readers.lock()
                && idle.len() < READERS
            {
                idle.push(conn);
            }
            result.map_err(DbError::from)
        })
        .await
        .map_err(|_| DbError::Panicked)?
    }

    /// A wake-up signal shared by everything in this process that uses `topic` on this
    /// database: a queue's receivers wait on it, its senders notify it after they commit.
    pub fn signal(&self, topic: &str) -> Arc<Notify> {
        let mut signals = self
            .inner
            .signals
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        Arc::clone(signals.entry(topic.to_owned()).or_default())
    }
}

/// One call's write transaction: a transaction of its own, or a savepoint inside the writer's
/// batch (see the module docs). Either way it holds the write lock, commits with
/// [`WriteTx::commit`] and rolls back when dropped.
pub enum WriteTx<'c> {
    Own(Transaction<'c>),
    InBatch(Savepoint<'c>),
}

impl WriteTx<'_> {
    pub fn commit(self) -> rusqlite::Result<()> {
        match self {
            WriteTx::Own(tx) => tx.commit(),
            WriteTx::InBatch(savepoint) => savepoint.commit(),
        }
    }
}

impl Deref for WriteTx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            WriteTx::Own(tx) => tx,
            WriteTx::InBatch(savepoint) => savepoint,
        }
    }
}

/// Starts a transaction that takes the write lock at once, so that what it reads cannot
/// change before it writes. Inside the writer's batch, whose transaction already holds the
/// lock, it is a savepoint.
pub fn immediate(conn: &mut Connection) -> rusqlite::Result<WriteTx<'_>> {
    if conn.is_autocommit() {
        conn.transaction_with_behavior(TransactionBehavior::Immediate)
            .map(WriteTx::Own)
    } else {
        conn.savepoint().map(WriteTx::InBatch)
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Durable against kill -9 in WAL mode; see the module docs for what it does not cover.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

fn open_writer(path: &Path) -> Result<Connection, DbError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| DbError::Directory {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let mut conn = Connection::open(path)?;
    // WAL is a property of the file: set once, it holds for every later connection.
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(DbError::NotWal(path.to_path_buf(), mode));
    }
    configure(&conn)?;
    migrate(&mut conn, COMPONENTS)?;
    Ok(conn)
}

fn open_reader(path: &Path) -> Result<Connection, DbError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    configure(&conn)?;
    Ok(conn)
}

fn run_writer(mut conn: Connection, jobs: mpsc::Receiver<Job>) {
    // Ends when every `Db` clone is gone; dropping the connection closes the file cleanly.
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&mut conn, batch);
    }
}

/// Applies `batch` in one transaction, each call in a savepoint of its own; see the module
/// docs for what each call is answered.
fn run_batch(conn: &mut Connection, batch: Vec<Job>) {
    let mut jobs = batch.into_iter();
    'transaction: while !jobs.as_slice().is_empty() {
        if conn.execute_batch("BEGIN IMMEDIATE").is_err() {
            // The lock is not ours: each call on its own, as it would run without batches.
            for job in jobs {
                let ran = job(conn);
                (ran.answer)(None);
            }
            return;
        }
        let mut applied: Vec<Ran> = Vec::new();
        for job in jobs.by_ref() {
            if let Err(e) = conn.execute_batch("SAVEPOINT vetted_call") {
                fail(conn, applied, &DbError::commit(&e));
                let ran = job(conn);
                (ran.answer)(None);
                continue 'transaction;
            }
            let ran = job(conn);
            if conn.is_autocommit() {
                // SQLite rolled the whole transaction back (disk full, I/O error): what the
                // calls before applied is gone with it.
                let gone = DbError::Commit {
                    message: "SQLite rolled the transaction back after an error in a write batched with this one".to_owned(),
                    retryable: false,
                };
                fail(conn, applied, &gone);
                (ran.answer)(ran.ok.then_some(&gone));
                continue 'transaction;
            }
            let ended = if ran.ok {
                conn.execute_batch("RELEASE vetted_call")
            } else {
                conn.execute_batch("ROLLBACK TO vetted_call; RELEASE vetted_call")
            };
            applied.push(ran);
            if let Err(e) = ended {
                fail(conn, applied, &DbError::commit(&e));
                continue 'transaction;
            }
        }
        match conn.execute_batch("COMMIT") {
            Ok(()) => {
                for ran in applied {
                    (ran.answer)(None);
                }
            }
            Err(e) => fail(conn, applied, &DbError::commit(&e)),
        }
    }
}

/// Ends the batch's transaction without committing it and answers each applied call that it
/// succeeded with `failure` (those that failed keep their own error).
fn fail(conn: &mut Connection, applied: Vec<Ran>, failure: &DbError) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for ran in applied {
        (ran.answer)(ran.ok.then_some(failure));
    }
}

/// Applies every migration of `components` that the file lacks, one transaction each, reading
/// the version inside that transaction so that two processes opening the file at once cannot
/// both apply the same step.
fn migrate(conn: &mut Connection, components: &[(&str, &[Migration])]) -> Result<(), DbError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_versions (
            component TEXT PRIMARY KEY,
            version INTEGER NOT NULL
        ) STRICT;",
    )?;
    for (component, migrations) in components {
        let known = migrations.last().map_or(0, |m| m.version);
        loop {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let found: u32 = tx
                .query_row(
                    "SELECT version FROM schema_versions WHERE component = ?1",
                    [component],
                    |row| row.get(0),
                )
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(0),
                    other => Err(other),
                })?;
            if found > known {
                return Err(DbError::SchemaTooNew {
                    component: (*component).to_owned(),
                    found,
                    known,
                });
            }
            let Some(next) = migrations.iter().find(|m| m.version > found) else {
                break;
            };
            tx.execute_batch(next.sql)?;
            tx.execute(
                "INSERT INTO schema_versions (component, version) VALUES (?1, ?2)
                 ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                rusqlite::params![component, next.version],
            )?;
            tx.commit()?;
            tracing::info!(component, version = next.version, "applied migration");
        }
    }
    Ok(())
}
