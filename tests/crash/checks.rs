//! What the crash test checks once the last server has settled: every accepted upload in its
//! right state, nothing lost, nothing done twice, and a sound database. Each check returns
//! the problems it found, each saying what was expected and what was found.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use vetted_core::ids::KeyKind;
use vetted_core::{ObjectKey, UploadId};
use vetted_embedded::fs_store::FsObjectStore;

use crate::jobs::Verdict;
use crate::load::{Run, lock};
use crate::moderate::{Attempt, Ledger, Outcome};
use crate::support::db::{self, Row};
use crate::support::events::{EventSchemas, expected_types};
use crate::support::webhook::Webhook;

/// What an upload must end as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub status: &'static str,
    pub reason: Option<String>,
    /// (moderator name, decision) for decided uploads.
    pub decided_by: Option<(String, String)>,
}

/// The final state the accepted upload `id` must reach, from its job and the decisions'
/// answers. `row` settles a decision whose request died with the server: it must show one of
/// the decisions that were sent.
pub fn expected(
    run: &Run,
    ledger_attempts: &[Attempt],
    job_verdict: &Verdict,
    row: Option<&Row>,
) -> Result<Expected, String> {
    if let Verdict::Rejected(reason) = job_verdict {
        return Ok(Expected {
            status: "REJECTED",
            reason: Some(reason.clone()),
            decided_by: None,
        });
    }
    let recorded: Vec<&Attempt> = ledger_attempts
        .iter()
        .filter(|a| matches!(a.outcome, Outcome::Recorded(_)))
        .collect();
    let winner = match recorded.as_slice() {
        [] if ledger_attempts.is_empty() => None,
        [] => {
            // Every request died or was refused: one that died may have been recorded.
            let lost: Vec<&Attempt> = ledger_attempts
                .iter()
                .filter(|a| a.outcome == Outcome::Lost)
                .collect();
            let Some(row) = row.filter(|r| r.moderator.is_some()) else {
                if lost.is_empty() {
                    return Err(format!("every decision was refused: {ledger_attempts:?}"));
                }
                return Err(format!(
                    "no decision took effect, though one was sent again after the restart: \
                     {ledger_attempts:?}"
                ));
            };
            let shown = (row.moderator.clone(), row.decision.clone());
            let matching = lost.iter().find(|a| {
                shown
                    == (
                        Some(run.moderators[a.moderator].0.clone()),
                        Some(a.decision.to_owned()),
                    )
            });
            match matching {
                Some(attempt) => Some(*attempt),
                None => {
                    return Err(format!(
                        "the record shows {shown:?}, which no lost request sent: {ledger_attempts:?}"
                    ));
                }
            }
        }
        [one] => Some(*one),
        many => return Err(format!("{} decisions were recorded: {many:?}", many.len())),
    };
    Ok(match winner {
        None => Expected {
            status: "IN_REVIEW",
            reason: None,
            decided_by: None,
        },
        Some(attempt) => Expected {
            status: if attempt.decision == "approve" {
                "PUBLISHED"
            } else {
                "DECLINED"
            },
            reason: None,
            decided_by: Some((
                run.moderators[attempt.moderator].0.clone(),
                attempt.decision.to_owned(),
            )),
        },
    })
}

/// What still keeps the pipeline from its final state (empty once it has settled). Also
/// used for the final verdict, so each line says what was expected and what was found.
pub fn unsettled(run: &Run, ledger: &Ledger, data: &Path) -> Vec<String> {
    let conn = db::open(data);
    let rows: BTreeMap<String, Row> = db::uploads(&conn)
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    let attempts = ledger.attempts();
    let store = FsObjectStore::new(data.join("objects")).expect("the object store");
    let mut problems = Vec::new();
    for (index, id) in lock(&run.accepted).iter() {
        let job = &run.jobs[*index];
        let row = rows.get(id);
        let Some(row) = row else {
            problems.push(format!(
                "upload {id} (job {index}) was accepted and has no record: LOST"
            ));
            continue;
        };
        let no_attempts = Vec::new();
        match expected(
            run,
            attempts.get(id).unwrap_or(&no_attempts),
            &job.verdict,
            Some(row),
        ) {
            Err(why) => problems.push(format!("upload {id} (job {index}): {why}")),
            Ok(want)
                if want.status != row.status
                    || (want.reason.is_some() && want.reason != row.reason) =>
            {
                problems.push(format!(
                    "upload {id} (job {index}, {}): expected {} {:?}, found {} {:?}",
                    job.file_name, want.status, want.reason, row.status, row.reason
                ));
            }
            Ok(_) => {}
        }
    }
    for row in rows.values() {
        match row.status.as_str() {
            "RECEIVED" | "DECIDED" | "APPROVED" => {
                problems.push(format!("upload {} is still {}", row.id, row.status));
            }
            "FAILED" | "EXPIRED" => {
                problems.push(format!(
                    "upload {} is {} ({:?})",
                    row.id, row.status, row.reason
                ));
            }
            "AWAITING_UPLOAD" => {
                let key = ObjectKey::parse(&row.object_key).expect("a stored key");
                if store.path_of(&key).exists() {
                    problems.push(format!(
                        "upload {} is AWAITING_UPLOAD with its object stored (a lost notification)",
                        row.id
                    ));
                }
            }
            _ => {}
        }
    }
    let (in_outbox, pending) = db::undelivered(&conn);
    if in_outbox + pending > 0 {
        problems.push(format!(
            "{in_outbox} events not yet handed on by the outbox, {pending} webhook deliveries pending"
        ));
    }
    problems
}

/// Every event the outbox published reached the webhook receiver, signed, as the outbox has
/// it, and no delivery failed. A kill may make an event arrive twice (the `webhook-id` says
/// so), never zero times.
fn webhook_problems(conn: &rusqlite::Connection, hook: &Webhook) -> Vec<String> {
    let mut problems = Vec::new();
    let received = hook.deliveries();
    let mut by_id: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for delivery in &received {
        if !delivery.signed {
            problems.push(format!(
                "webhook delivery {} is not signed with the endpoint's secret",
                delivery.id_header
            ));
        }
        by_id
            .entry(delivery.id_header.as_str())
            .or_default()
            .push(&delivery.event);
    }
    let outbox = db::outbox(conn);
    for (_, event_id, event_type, body) in &outbox {
        let published: Value = serde_json::from_str(body).expect("an event body is JSON");
        match by_id.get(event_id.as_str()) {
            None => problems.push(format!(
                "event {event_id} ({event_type}) never reached the webhook receiver: LOST"
            )),
            Some(copies) if copies.iter().any(|c| **c != published) => problems.push(format!(
                "event {event_id}: a delivery differs from the outbox's event"
            )),
            Some(_) => {}
        }
    }
    for (event_id, status, attempts) in db::webhook_deliveries(conn) {
        if status != "delivered" {
            problems.push(format!(
                "webhook delivery of {event_id} is {status} after {attempts} attempts"
            ));
        }
    }
    if outbox.is_empty() {
        problems.push("the outbox is empty: the load published no events".to_owned());
    }
    problems
}

/// Everything else, once settled: the API agrees with the records, one execution per review,
/// one event per status change (each valid), the right objects, no dead letters, a sound file.
pub async fn verify(run: &Run, ledger: &Ledger, data: &Path, hook: &Webhook) -> Vec<String> {
    let mut problems = unsettled(run, ledger, data);
    let conn = db::open(data);
    problems.extend(webhook_problems(&conn, hook));
    let rows = db::uploads(&conn);
    let attempts = ledger.attempts();
    let executions = db::executions(&conn);
    let outbox = db::outbox(&conn);
    let store = FsObjectStore::new(data.join("objects")).expect("the object store");
    let schemas = EventSchemas::load();
    let no_attempts = Vec::new();

    for row in &rows {
        let id = &row.id;
        let Some(job) = run.job_of(id) else {
            // A kill between writing the intent and answering 201 leaves an intent no client
            // ever saw: nothing can be uploaded to it, so it must stay an intent (until it
            // expires) with no events.
            let has_events = outbox.iter().any(|(upload, ..)| upload == id);
            if !matches!(row.status.as_str(), "AWAITING_UPLOAD" | "EXPIRED") || has_events {
                problems.push(format!(
                    "upload {id} was never granted to this test's clients, yet is {} \
                     (events: {has_events})",
                    row.status
                ));
            }
            continue;
        };
        // Granted uploads whose 201 was lost with the server are held to the same rules.
        let want = expected(
            run,
            attempts.get(id).unwrap_or(&no_attempts),
            &job.verdict,
            Some(row),
        );
        if let Ok(want) = &want
            && row.status != "AWAITING_UPLOAD"
        {
            let shown = row.moderator.clone().zip(row.decision.clone());
            if shown != want.decided_by {
                problems.push(format!(
                    "upload {id}: expected decided by {:?}, the record shows {shown:?}",
                    want.decided_by
                ));
            }
        }
        let runs: Vec<&(String, String)> = executions
            .iter()
            .filter(|(name, _)| name.starts_with(&format!("{id}-")))
            .collect();
        let (want_runs, want_run_status) = match row.status.as_str() {
            "IN_REVIEW" => (1, "RUNNING"),
            "PUBLISHED" | "DECLINED" => (1, "SUCCEEDED"),
            _ => (0, ""),
        };
        if runs.len() != want_runs || runs.iter().any(|(_, s)| s != want_run_status) {
            problems.push(format!(
                "upload {id} ({}): expected {want_runs} execution(s) {want_run_status}, found {runs:?}",
                row.status
            ));
        }
        let events: Vec<&(String, String, String, String)> =
            outbox.iter().filter(|(upload, ..)| upload == id).collect();
        // Every owner's uploads share one slot, so whether a publish made its image live (and
        // announced `slot.changed`) depends on which decision came last: that event is checked
        // on its own, at most once and only for a published upload.
        let is_slot_event = |t: &str| t == "slot.changed";
        let all_types: Vec<&str> = events.iter().map(|(_, _, t, _)| t.as_str()).collect();
        let slot_events = all_types.iter().filter(|t| is_slot_event(t)).count();
        if slot_events > usize::from(row.status == "PUBLISHED") {
            problems.push(format!(
                "upload {id} ({}): {slot_events} slot.changed events",
                row.status
            ));
        }
        let types: Vec<&str> = all_types
            .into_iter()
            .filter(|t| !is_slot_event(t))
            .collect();
        let want_types: Vec<&str> = if row.status == "AWAITING_UPLOAD" {
            Vec::new()
        } else {
            expected_types(&row.status)
                .iter()
                .copied()
                .filter(|t| !is_slot_event(t))
                .collect()
        };
        if types != want_types {
            problems.push(format!(
                "upload {id} ({}): expected events {want_types:?}, found {types:?}",
                row.status
            ));
        }
        for (_, _, _, body) in &events {
            let event: Value = serde_json::from_str(body).expect("an event body is JSON");
            problems.extend(schemas.violations(&event));
        }
        problems.extend(object_problems(&store, row));
    }

    let accepted = lock(&run.accepted).clone();
    for (index, id) in &accepted {
        let owner = &run.owners[run.jobs[*index].owner].1;
        let found = run.api.upload(&run.base(), owner, id).await;
        let row = rows.iter().find(|r| &r.id == id);
        match (found, row) {
            (Ok(answer), Some(row))
                if answer.status == 200 && answer.body["status"] == row.status.as_str() => {}
            (found, row) => problems.push(format!(
                "GET /api/uploads/{id}: expected {:?}, found {found:?}",
                row.map(|r| &r.status)
            )),
        }
    }
    for (id, tries) in &attempts {
        let recorded = tries
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Recorded(_)))
            .count();
        if recorded > 1 {
            problems.push(format!(
                "upload {id}: {recorded} decisions recorded: {tries:?}"
            ));
        }
    }
    for (queue, body) in db::dead_letters(&conn) {
        problems.push(format!("dead letter in {queue}: {body}"));
    }
    problems.extend(
        db::integrity_problems(&conn)
            .into_iter()
            .map(|p| format!("sqlite: {p}")),
    );
    problems.extend(lock(&run.surprises).iter().cloned());
    problems
}

/// The objects an upload in this status must have, and must not.
fn object_problems(store: &FsObjectStore, row: &Row) -> Vec<String> {
    let id = UploadId::parse(&row.id).expect("an upload id");
    let incoming = ObjectKey::parse(&row.object_key).expect("a stored key");
    let KeyKind::Incoming { target, .. } = incoming.kind() else {
        panic!("{incoming} is not an incoming key");
    };
    let (sanitized, preview, published) = (
        ObjectKey::sanitized(&id),
        ObjectKey::preview(&id),
        ObjectKey::published(&target, &id),
    );
    let (present, absent): (Vec<&ObjectKey>, Vec<&ObjectKey>) = match row.status.as_str() {
        "IN_REVIEW" => (vec![&incoming, &sanitized, &preview], vec![&published]),
        "PUBLISHED" => (vec![&published], vec![&incoming]),
        "DECLINED" => (vec![], vec![&incoming, &sanitized, &preview, &published]),
        "REJECTED" => (vec![], vec![&incoming, &published]),
        _ => return Vec::new(),
    };
    let mut problems = Vec::new();
    for key in present {
        if !store.path_of(key).exists() {
            problems.push(format!(
                "upload {} ({}): {key} is missing",
                row.id, row.status
            ));
        }
    }
    for key in absent {
        if store.path_of(key).exists() {
            problems.push(format!(
                "upload {} ({}): {key} should not exist",
                row.id, row.status
            ));
        }
    }
    problems
}

/// Where the uploads named in `problems` are stuck: their queue messages, executions and
/// waiting tasks, for the failure message.
pub fn diagnose(data: &Path, problems: &[String]) -> String {
    let conn = db::open(data);
    let now = db::now_ms();
    let mut ids: Vec<&str> = problems
        .iter()
        .filter_map(|p| p.strip_prefix("upload "))
        .filter_map(|p| p.split_whitespace().next())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = String::from("where they are:");
    for id in ids.iter().take(20) {
        let pattern = format!("%{id}%");
        let messages: Vec<String> = conn
            .prepare(
                "SELECT queue, receive_count, visible_at - ?2, receipt IS NOT NULL
                 FROM queue_messages WHERE body LIKE ?1",
            )
            .expect("messages query")
            .query_map(rusqlite::params![pattern, now], |r| {
                Ok(format!(
                    "{} message: received {} times, visible in {} ms, in flight: {}",
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, bool>(3)?
                ))
            })
            .expect("messages rows")
            .collect::<Result<_, _>>()
            .expect("messages rows");
        let runs: Vec<String> = conn
            .prepare(
                "SELECT e.name, e.status, e.state, t.state, t.dispatched FROM wf_executions e
                 LEFT JOIN wf_tasks t ON t.execution = e.name WHERE e.name LIKE ?1",
            )
            .expect("executions query")
            .query_map([format!("{id}-%")], |r| {
                Ok(format!(
                    "execution {} {} at {:?}, task {:?} dispatched {:?}",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<i64>>(4)?
                ))
            })
            .expect("executions rows")
            .collect::<Result<_, _>>()
            .expect("executions rows");
        out.push_str(&format!("\n  {id}: {messages:?} {runs:?}"));
    }
    out
}
