//! Sending task messages after their transaction commits, once per process, and marking them
//! sent; a send that fails stays owed for the runner.

use std::sync::Arc;

use tracing::warn;

use super::EmbeddedWorkflow;
use crate::db::immediate;
use crate::workflow::machine::{Dispatch, Effects};
use crate::workflow::store;

impl EmbeddedWorkflow {
    /// After a commit: wake the runner for new deadlines, and send the new task messages.
    pub(super) async fn after(&self, effects: Effects) {
        if effects.deadlines_changed {
            self.inner.deadlines.notify_one();
        }
        self.send_all(effects.dispatches).await;
    }

    /// Sends each message once (per process), marks it sent, and continues executions whose
    /// task ended with the send. A failed send stays owed; the runner tries again.
    pub(super) async fn send_all(&self, mut pending: Vec<Dispatch>) {
        while let Some(dispatch) = pending.pop() {
            let token = dispatch.token.clone();
            if !self.claim(&token) {
                continue;
            }
            let result = self.send_one(dispatch).await;
            self.release(&token);
            match result {
                Ok(effects) => {
                    if effects.deadlines_changed {
                        self.inner.deadlines.notify_one();
                    }
                    pending.extend(effects.dispatches);
                }
                Err(error) => warn!(%error, "sending a task message failed; it will be sent again"),
            }
        }
    }

    async fn send_one(&self, dispatch: Dispatch) -> Result<Effects, String> {
        let token = dispatch.token.clone();
        // Still owed? Another sender may have sent and marked it between our read and claim.
        let check = token.clone();
        let owed = self
            .inner
            .db
            .read(move |conn| store::is_dispatched(conn, &check))
            .await;
        if !matches!(owed, Ok(Some(false))) {
            return owed.map(|_| Effects::default()).map_err(|e| e.to_string());
        }
        let Some(queue) = self.inner.queues.get(&dispatch.queue) else {
            return Err(format!("no queue {:?}", dispatch.queue));
        };
        queue
            .send(&dispatch.body)
            .await
            .map_err(|e| e.to_string())?;
        let inner = Arc::clone(&self.inner);
        self.inner
            .db
            .call(move |conn| {
                let tx = immediate(conn)?;
                let mut effects = Effects::default();
                let Some(task) = store::find_task(&tx, &token)? else {
                    return Ok(effects);
                };
                if store::mark_dispatched(&tx, &task.token)?
                    && let Some((def, row)) = inner.running(&tx, &task.execution)?
                {
                    let now = inner.clock.now().unix_millis();
                    if task.wait_for_token {
                        store::append_history(
                            &tx,
                            &task.execution,
                            now,
                            "TaskSubmitted",
                            Some(&task.state),
                            &serde_json::json!({ "queue": task.queue }),
                        )?;
                    } else {
                        inner
                            .machine(&tx, &def, row, now, &mut effects)
                            .message_sent(&task)?;
                    }
                }
                tx.commit()?;
                Ok(effects)
            })
            .await
            .map_err(|e| e.to_string())
    }

    fn claim(&self, token: &str) -> bool {
        let mut sending = self.inner.sending.lock().unwrap_or_else(|p| p.into_inner());
        sending.insert(token.to_owned())
    }

    fn release(&self, token: &str) {
        let mut sending = self.inner.sending.lock().unwrap_or_else(|p| p.into_inner());
        sending.remove(token);
    }
}
