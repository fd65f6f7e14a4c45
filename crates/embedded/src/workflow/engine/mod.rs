//! `EmbeddedWorkflow`: the durable engine behind the review workflow ports (`ReviewStarter`
//! and `TaskResponder`).
//!
//! Every change to an execution is one transaction on the database's writer ([`Machine`]).
//! Task messages are sent after that transaction commits, outbox-style: the task row records
//! that a message is owed (`dispatched = 0`), the send happens, then the row is marked. A crash
//! between commit and mark re-sends on restart (workers are idempotent); a message is never
//! lost. The runner ([`EmbeddedWorkflow::run`]) re-sends what is owed, and fires timeouts,
//! heartbeat deadlines and Retry delays; it sleeps until the next deadline, wakes at once when
//! this process sets a new one, and looks at the database at least every [`POLL_INTERVAL`].
//!
//! One engine per database file: deduplication of sends between the inline path and the runner
//! is in memory.

mod dispatch;
mod runner;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use thiserror::Error;
use tokio::sync::Notify;
use vetted_core::ports::{
    ReviewStart, ReviewStarter, StartOutcome, TaskResponder, WorkQueue, WorkflowError,
};
use vetted_core::{Clock, ExecutionName, TaskToken};

use super::definition::Definition;
use super::errors::DefinitionError;
use super::history::{self, ExecutionDescription, HistoryEvent};
use super::machine::{Effects, Machine};
use super::store::{self, ExecutionRow, RUNNING};
use crate::db::{Db, DbError, immediate};

/// The most the runner sleeps before looking at the database again.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The `$$.StateMachine.Name` of executions.
pub const STATE_MACHINE_NAME: &str = "review";

/// How many owed sends, overdue tasks or due retries one tick handles of each.
const TICK_BATCH: i64 = 200;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error("the workflow definition is refused: {0}")]
    Definition(#[from] DefinitionError),
    #[error("running executions use definition {hash}, which can no longer be loaded: {source}")]
    StoredDefinition {
        hash: String,
        #[source]
        source: DefinitionError,
    },
    #[error("workflow store: {0}")]
    Db(#[from] DbError),
}

/// The `QueueUrl` the review workflow's sanitize tasks name on the embedded engine.
pub const SANITIZE_QUEUE_URL: &str = "embedded://queues/sanitize";
/// The `QueueUrl` of every other review task on the embedded engine.
pub const REVIEW_TASKS_QUEUE_URL: &str = "embedded://queues/review-tasks";

/// The embedded workflow engine. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct EmbeddedWorkflow {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    current: Arc<Definition>,
    /// By hash: the current definition and those that running executions still use.
    definitions: HashMap<String, Arc<Definition>>,
    queues: HashMap<String, Arc<dyn WorkQueue>>,
    queue_urls: HashSet<String>,
    clock: Arc<dyn Clock>,
    /// Tokens being sent right now, so the runner never sends one twice at once.
    sending: Mutex<HashSet<String>>,
    deadlines: Notify,
}

/// What an answer to a task found.
enum Answered {
    Done(Effects),
    Gone,
}

impl EmbeddedWorkflow {
    /// The review workflow (`statemachine/review.asl.json`, placeholders still in it) with its
    /// two task queues: the one composition `vetted serve` and the tests share.
    pub async fn open_review(
        db: Db,
        review_asl: &str,
        sanitize: Arc<dyn WorkQueue>,
        review_tasks: Arc<dyn WorkQueue>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, EngineError> {
        let definition = super::substitute(
            review_asl,
            &[
                ("SanitizeQueueUrl", SANITIZE_QUEUE_URL),
                ("ReviewTasksQueueUrl", REVIEW_TASKS_QUEUE_URL),
            ],
        )?;
        let queues = HashMap::from([
            (SANITIZE_QUEUE_URL.to_owned(), sanitize),
            (REVIEW_TASKS_QUEUE_URL.to_owned(), review_tasks),
        ]);
        Self::open(db, &definition, queues, clock).await
    }

    /// Loads `definition_json` (placeholders already substituted, see
    /// [`super::substitute`]) over `queues`, keyed by the `QueueUrl` the definition names.
    /// Running executions keep the definition they started with; if one of those can no longer
    /// be loaded (its queue is gone), opening fails rather than strand them.
    pub async fn open(
        db: Db,
        definition_json: &str,
        queues: HashMap<String, Arc<dyn WorkQueue>>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, EngineError> {
        let queue_urls: HashSet<String> = queues.keys().cloned().collect();
        let known = |url: &str| queue_urls.contains(url);
        let current = Arc::new(Definition::parse(definition_json, &known)?);
        let (hash, text, now) = (
            current.hash.clone(),
            current.text.clone(),
            clock.now().unix_millis(),
        );
        let older = db
            .call(move |conn| {
                store::store_definition(conn, &hash, &text, now)?;
                store::running_definitions(conn, &hash)
            })
            .await?;
        let mut definitions = HashMap::from([(current.hash.clone(), Arc::clone(&current))]);
        for (hash, text) in older {
            let definition = Definition::parse(&text, &known).map_err(|source| {
                EngineError::StoredDefinition {
                    hash: hash.clone(),
                    source,
                }
            })?;
            definitions.insert(hash, Arc::new(definition));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                current,
                definitions,
                queues,
                queue_urls,
                clock,
                sending: Mutex::new(HashSet::new()),
                deadlines: Notify::new(),
            }),
        })
    }

    pub fn definition(&self) -> &Definition {
        &self.inner.current
    }

    /// Starts an execution with any JSON input (the port's `start` sends a [`ReviewStart`]).
    pub async fn start_execution(
        &self,
        name: &ExecutionName,
        input: Value,
    ) -> Result<StartOutcome, WorkflowError> {
        let inner = Arc::clone(&self.inner);
        let name = name.as_str().to_owned();
        let outcome = self
            .call("workflow.start", move |conn| {
                let tx = immediate(conn)?;
                if store::execution_exists(&tx, &name)? {
                    return Ok((StartOutcome::AlreadyStarted, Effects::default()));
                }
                let now = inner.clock.now().unix_millis();
                let row = ExecutionRow {
                    name,
                    definition: inner.current.hash.clone(),
                    input,
                    status: RUNNING.to_owned(),
                    started_at: now,
                    state: None,
                    state_input: Value::Null,
                    state_entered_at: now,
                    retry_attempts: Vec::new(),
                    retry_count: 0,
                    retry_at: None,
                };
                let mut effects = Effects::default();
                inner
                    .machine(&tx, &inner.current, row, now, &mut effects)
                    .start()?;
                tx.commit()?;
                Ok((StartOutcome::Started, effects))
            })
            .await?;
        let (outcome, effects) = outcome;
        self.after(effects).await;
        Ok(outcome)
    }

    /// Step Functions' `SendTaskHeartbeat`: the task still works; its heartbeat deadline moves.
    pub async fn send_task_heartbeat(&self, token: &TaskToken) -> Result<(), WorkflowError> {
        let inner = Arc::clone(&self.inner);
        let token = token.expose().to_owned();
        let alive = self
            .call("workflow.heartbeat", move |conn| {
                store::beat(conn, &token, inner.clock.now().unix_millis())
            })
            .await?;
        if alive {
            Ok(())
        } else {
            Err(WorkflowError::TaskGone)
        }
    }

    pub async fn describe(&self, name: &str) -> Result<Option<ExecutionDescription>, DbError> {
        let name = name.to_owned();
        self.inner
            .db
            .read(move |conn| history::describe(conn, &name))
            .await
    }

    pub async fn history(&self, name: &str) -> Result<Vec<HistoryEvent>, DbError> {
        let name = name.to_owned();
        self.inner
            .db
            .read(move |conn| history::history(conn, &name))
            .await
    }

    async fn call<R, F>(&self, operation: &'static str, f: F) -> Result<R, WorkflowError>
    where
        R: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        self.inner
            .db
            .call(f)
            .await
            .map_err(|e| WorkflowError::Backend(e.into_backend(operation)))
    }

    async fn answer(
        &self,
        operation: &'static str,
        token: &TaskToken,
        apply: impl FnOnce(Machine<'_>, &store::TaskRow) -> rusqlite::Result<()> + Send + 'static,
    ) -> Result<(), WorkflowError> {
        let inner = Arc::clone(&self.inner);
        let token = token.expose().to_owned();
        let answered = self
            .call(operation, move |conn| {
                let tx = immediate(conn)?;
                let Some(task) = store::find_task(&tx, &token)?.filter(|t| t.wait_for_token) else {
                    return Ok(Answered::Gone);
                };
                let mut effects = Effects::default();
                let Some((machine_def, row)) = inner.running(&tx, &task.execution)? else {
                    return Ok(Answered::Gone);
                };
                let now = inner.clock.now().unix_millis();
                apply(
                    inner.machine(&tx, &machine_def, row, now, &mut effects),
                    &task,
                )?;
                tx.commit()?;
                Ok(Answered::Done(effects))
            })
            .await?;
        match answered {
            Answered::Done(effects) => {
                self.after(effects).await;
                Ok(())
            }
            Answered::Gone => Err(WorkflowError::TaskGone),
        }
    }
}

impl Inner {
    fn machine<'a>(
        &'a self,
        conn: &'a rusqlite::Connection,
        def: &'a Definition,
        row: ExecutionRow,
        now: i64,
        effects: &'a mut Effects,
    ) -> Machine<'a> {
        Machine::new(
            conn,
            def,
            &self.queue_urls,
            STATE_MACHINE_NAME,
            now,
            row,
            effects,
        )
    }

    /// A running execution with the definition it runs.
    fn running(
        &self,
        conn: &rusqlite::Connection,
        name: &str,
    ) -> rusqlite::Result<Option<(Arc<Definition>, ExecutionRow)>> {
        let Some(row) = store::load_execution(conn, name)?.filter(|r| r.status == RUNNING) else {
            return Ok(None);
        };
        Ok(self
            .definitions
            .get(&row.definition)
            .map(|def| (Arc::clone(def), row)))
    }
}

#[async_trait]
impl ReviewStarter for EmbeddedWorkflow {
    #[tracing::instrument(skip(self, input), fields(upload_id = %input.upload_id))]
    async fn start(
        &self,
        name: &ExecutionName,
        input: &ReviewStart,
    ) -> Result<StartOutcome, WorkflowError> {
        let input = serde_json::to_value(input).map_err(|e| {
            WorkflowError::Backend(vetted_core::ports::BackendError::permanent(
                "workflow.start",
                e,
            ))
        })?;
        self.start_execution(name, input).await
    }
}

#[async_trait]
impl TaskResponder for EmbeddedWorkflow {
    #[tracing::instrument(skip_all)]
    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &Value,
    ) -> Result<(), WorkflowError> {
        let output = output.clone();
        self.answer("workflow.send_task_success", token, move |machine, task| {
            machine.task_succeeded(task, output)
        })
        .await
    }

    #[tracing::instrument(skip(self, token, cause))]
    async fn send_task_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<(), WorkflowError> {
        let error = if error.is_empty() {
            super::errors::STATES_TASK_FAILED.to_owned()
        } else {
            error.to_owned()
        };
        let cause = cause.to_owned();
        self.answer("workflow.send_task_failure", token, move |machine, task| {
            machine.task_failed(task, &error, &cause)
        })
        .await
    }
}
