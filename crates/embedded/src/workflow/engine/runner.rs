//! The runner: fires due timeouts, heartbeat deadlines and Retry delays, and re-sends owed
//! task messages; it sleeps until the next deadline or a wake-up from this process.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tracing::warn;
use vetted_core::Timestamp;

use super::{EmbeddedWorkflow, POLL_INTERVAL, TICK_BATCH};
use crate::db::{DbError, immediate};
use crate::workflow::machine::{Dispatch, Effects, Overdue};
use crate::workflow::store;

impl EmbeddedWorkflow {
    /// Runs timers and owed sends until `shutdown` completes. Start it once per process.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let nap = match self.tick().await {
                Ok(Some(due)) => due
                    .duration_since(self.inner.clock.now())
                    .clamp(Duration::from_millis(1), POLL_INTERVAL),
                Ok(None) => POLL_INTERVAL,
                Err(error) => {
                    warn!(%error, "workflow runner tick failed; trying again");
                    POLL_INTERVAL
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = self.inner.deadlines.notified() => {}
                () = tokio::time::sleep(nap) => {}
            }
        }
    }

    /// Does once what the runner does: sends what is owed, then fires every timeout, heartbeat
    /// and Retry that is due by the engine's clock. Returns the next deadline. Tests with a
    /// manual clock call it after moving the clock.
    pub async fn tick(&self) -> Result<Option<Timestamp>, DbError> {
        let owed = self
            .inner
            .db
            .read(|conn| store::undispatched(conn, TICK_BATCH))
            .await?;
        self.send_all(
            owed.into_iter()
                .map(|t| Dispatch {
                    token: t.token,
                    queue: t.queue,
                    body: t.body,
                })
                .collect(),
        )
        .await;
        let now = self.inner.clock.now().unix_millis();
        let overdue = self
            .inner
            .db
            .read(move |conn| store::overdue_tasks(conn, now, TICK_BATCH))
            .await?;
        for token in overdue {
            let effects = self.fire_timeout(token).await?;
            self.after(effects).await;
        }
        let retries = self
            .inner
            .db
            .read(move |conn| store::due_retries(conn, now, TICK_BATCH))
            .await?;
        for name in retries {
            let effects = self.fire_retry(name).await?;
            self.after(effects).await;
        }
        let next = self.inner.db.read(store::next_deadline).await?;
        Ok(next.map(Timestamp::from_unix_millis))
    }

    async fn fire_timeout(&self, token: String) -> Result<Effects, DbError> {
        let inner = Arc::clone(&self.inner);
        self.inner
            .db
            .call(move |conn| {
                let tx = immediate(conn)?;
                let now = inner.clock.now().unix_millis();
                let Some(task) = store::find_task(&tx, &token)? else {
                    return Ok(Effects::default());
                };
                // Read again inside the transaction: a heartbeat may have moved the deadline.
                let why = if task.timeout_at.is_some_and(|at| at <= now) {
                    Overdue::Timeout
                } else if task.heartbeat_at.is_some_and(|at| at <= now) {
                    Overdue::Heartbeat
                } else {
                    return Ok(Effects::default());
                };
                let mut effects = Effects::default();
                if let Some((def, row)) = inner.running(&tx, &task.execution)? {
                    inner
                        .machine(&tx, &def, row, now, &mut effects)
                        .task_timed_out(&task, why)?;
                }
                tx.commit()?;
                Ok(effects)
            })
            .await
    }

    async fn fire_retry(&self, name: String) -> Result<Effects, DbError> {
        let inner = Arc::clone(&self.inner);
        self.inner
            .db
            .call(move |conn| {
                let tx = immediate(conn)?;
                let now = inner.clock.now().unix_millis();
                let mut effects = Effects::default();
                if let Some((def, row)) = inner.running(&tx, &name)?
                    && row.retry_at.is_some_and(|at| at <= now)
                {
                    inner
                        .machine(&tx, &def, row, now, &mut effects)
                        .retry_due()?;
                }
                tx.commit()?;
                Ok(effects)
            })
            .await
    }
}
