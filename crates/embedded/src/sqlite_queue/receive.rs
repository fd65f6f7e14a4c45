//! One receive, in one transaction: deliver what is due, dead-letter what has been received
//! too often, and say when the next hidden message is due.

use rusqlite::{Connection, params};
use vetted_core::ports::{QueueMessage, Receipt};

use super::{QueueConfig, millis, new_receipt, now_ms};
use crate::db::immediate;

/// What one receive transaction found.
pub(super) struct Batch {
    pub(super) delivered: Vec<QueueMessage>,
    /// When the next hidden message becomes due, if any.
    pub(super) next_due: Option<i64>,
}

pub(super) fn receive_batch(
    conn: &mut Connection,
    queue: &str,
    max: u32,
    config: QueueConfig,
) -> rusqlite::Result<Batch> {
    let tx = immediate(conn)?;
    let now = now_ms();
    let hidden_until = now.saturating_add(millis(config.visibility_timeout));
    let mut delivered = Vec::new();
    loop {
        let want = i64::from(max) - delivered.len() as i64;
        let due: Vec<(i64, String, String, u32)> = tx
            .prepare_cached(
                "SELECT seq, id, body, receive_count FROM queue_messages
                 WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, seq LIMIT ?3",
            )?
            .query_map(params![queue, now, want], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        if due.is_empty() {
            break;
        }
        for (seq, id, body, count) in due {
            if count >= config.max_receives {
                tx.prepare_cached(
                    "INSERT INTO queue_dead_letters (queue, id, body, sent_at, receive_count, died_at)
                     SELECT queue, id, body, sent_at, receive_count, ?2 FROM queue_messages
                     WHERE seq = ?1",
                )?
                .execute(params![seq, now])?;
                tx.prepare_cached("DELETE FROM queue_messages WHERE seq = ?1")?
                    .execute([seq])?;
                continue;
            }
            let receipt = new_receipt(seq);
            tx.prepare_cached(
                "UPDATE queue_messages
                 SET receive_count = receive_count + 1, receipt = ?2, visible_at = ?3
                 WHERE seq = ?1",
            )?
            .execute(params![seq, receipt, hidden_until])?;
            delivered.push(QueueMessage {
                id,
                receipt: Receipt(receipt),
                body,
                receive_count: count + 1,
            });
        }
        if delivered.len() >= max as usize {
            break;
        }
    }
    let next_due = if delivered.is_empty() {
        tx.prepare_cached("SELECT MIN(visible_at) FROM queue_messages WHERE queue = ?1")?
            .query_row([queue], |r| r.get(0))?
    } else {
        None
    };
    tx.commit()?;
    Ok(Batch {
        delivered,
        next_due,
    })
}
