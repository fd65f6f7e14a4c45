//! Uploads checks: conditional transitions, compared with `UploadRecord::apply`.

use futures_util::future::join_all;
use vetted_core::ports::{Uploads, UploadsError};
use vetted_core::{CorrelationId, RecordChanges, Status, TaskToken, Transition, UploadRecord};

use super::{at, every_field, fresh_owner, intent, now_ms};
use crate::support::Check;

/// The moves that bring a new intent into `status`.
pub(crate) fn path_to(status: Status) -> &'static [(Status, Status)] {
    use Status::*;
    match status {
        AwaitingUpload => &[],
        Received => &[(AwaitingUpload, Received)],
        InReview => &[(AwaitingUpload, Received), (Received, InReview)],
        AwaitingSecond => &[
            (AwaitingUpload, Received),
            (Received, InReview),
            (InReview, AwaitingSecond),
        ],
        Decided => &[
            (AwaitingUpload, Received),
            (Received, InReview),
            (InReview, Decided),
        ],
        Approved => &[
            (AwaitingUpload, Received),
            (Received, InReview),
            (InReview, Decided),
            (Decided, Approved),
        ],
        Failed => &[(AwaitingUpload, Failed)],
        Published | Rejected | Declined | Expired | Withdrawn => {
            panic!("no move leaves {status}, so no check needs a record in it")
        }
    }
}

/// Applies `transition` through the store and checks the answer and the stored record against
/// `model.apply`; returns the new model.
async fn step(
    check: &str,
    uploads: &dyn Uploads,
    model: &UploadRecord,
    transition: &Transition,
) -> UploadRecord {
    let expected = model
        .apply(transition)
        .expect("the model is in the expected status");
    let what = format!("{} -> {}", transition.from, transition.to);
    let answered = uploads
        .transition(&model.id, transition)
        .await
        .unwrap_or_else(|e| panic!("{check}: transition {what} failed: {e}"));
    assert_eq!(
        answered, expected,
        "{check}: transition {what} answered a record that differs from apply()"
    );
    let stored = uploads.get(&model.id).await.expect("get after transition");
    assert_eq!(
        stored, expected,
        "{check}: after {what} the stored record differs from apply()"
    );
    expected
}

/// For every move the status machine allows, a record walked into `from` and moved to `to`
/// is exactly what `apply` makes of it, both with every field set and with none.
pub async fn every_legal_transition_matches_apply(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::every_legal_transition_matches_apply";
    let _check = Check::start(CHECK);
    let owner = fresh_owner();
    let base = now_ms();
    let mut seed = 0;
    for from in Status::ALL {
        for to in Status::ALL
            .into_iter()
            .filter(|to| from.check_move(*to).is_ok())
        {
            for final_changes_set_every_field in [true, false] {
                // One walk with the client's correlation id, one with none: no transition
                // may drop or invent it.
                let correlation = final_changes_set_every_field
                    .then(|| CorrelationId::parse("contract:walk-1").expect("valid"));
                let mut model = intent(&owner, base).with_correlation_id(correlation);
                uploads.create(&model).await.expect("create");
                for (i, (a, b)) in path_to(from).iter().enumerate() {
                    seed += 1;
                    let t = Transition::new(*a, *b, at(base + 10 * (i as i64 + 1)))
                        .expect("legal move")
                        .with(every_field(seed));
                    model = step(CHECK, uploads, &model, &t).await;
                }
                seed += 1;
                let changes = if final_changes_set_every_field {
                    every_field(seed)
                } else {
                    RecordChanges::default()
                };
                let t = Transition::new(from, to, at(base + 1000))
                    .expect("legal move")
                    .with(changes);
                step(CHECK, uploads, &model, &t).await;
            }
        }
    }
}

fn expect_conflict(
    check: &str,
    result: Result<UploadRecord, UploadsError>,
    record: &UploadRecord,
    expected: Status,
    actual: Status,
) {
    match result {
        Err(UploadsError::Conflict {
            expected: e,
            current,
        }) => {
            assert_eq!(
                current.id, record.id,
                "{check}: Conflict names the wrong record"
            );
            assert_eq!(e, expected, "{check}: Conflict's expected status");
            assert_eq!(
                current.status, actual,
                "{check}: Conflict must carry the record as it stands"
            );
        }
        other => panic!(
            "{check}: a transition from {expected} of a record in {actual} must be a Conflict, got {other:?}"
        ),
    }
}

/// A transition whose `from` is not the stored status is a `Conflict` carrying the actual
/// status, and leaves the record untouched: a stale move, a duplicate, a move out of a final status.
pub async fn a_conflict_reports_the_actual_status_and_writes_nothing(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::a_conflict_reports_the_actual_status_and_writes_nothing";
    let _check = Check::start(CHECK);
    let base = now_ms();
    let record = intent(&fresh_owner(), base);
    uploads.create(&record).await.expect("create");
    let too_early = Transition::new(Status::Received, Status::InReview, at(base + 1))
        .expect("legal move")
        .with(every_field(1));
    let result = uploads.transition(&record.id, &too_early).await;
    expect_conflict(
        CHECK,
        result,
        &record,
        Status::Received,
        Status::AwaitingUpload,
    );
    assert_eq!(
        uploads.get(&record.id).await.expect("get"),
        record,
        "{CHECK}: wrote"
    );

    let receive = Transition::new(Status::AwaitingUpload, Status::Received, at(base + 2))
        .expect("legal move")
        .with(every_field(2));
    let received = step(CHECK, uploads, &record, &receive).await;
    let duplicate = Transition {
        at: at(base + 3),
        changes: every_field(3),
        ..receive
    };
    let result = uploads.transition(&record.id, &duplicate).await;
    expect_conflict(
        CHECK,
        result,
        &record,
        Status::AwaitingUpload,
        Status::Received,
    );
    assert_eq!(
        uploads.get(&record.id).await.expect("get"),
        received,
        "{CHECK}: a duplicate transition changed the record"
    );

    let reject =
        Transition::new(Status::Received, Status::Rejected, at(base + 4)).expect("legal move");
    let rejected = step(CHECK, uploads, &received, &reject).await;
    let result = uploads.transition(&record.id, &too_early).await;
    expect_conflict(CHECK, result, &record, Status::Received, Status::Rejected);
    assert_eq!(
        uploads.get(&record.id).await.expect("get"),
        rejected,
        "{CHECK}: a move out of a final status changed the record"
    );
}

/// Of many transitions from the same status started at once, exactly one succeeds; every other
/// one is a `Conflict` carrying the winner's record, and the stored record is the winner's.
pub async fn concurrent_transitions_have_exactly_one_winner(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::concurrent_transitions_have_exactly_one_winner";
    let _check = Check::start(CHECK);
    const RACERS: u32 = 12;
    const ROUNDS: u32 = 4;
    let owner = fresh_owner();
    for round in 0..ROUNDS {
        let base = now_ms();
        let record = intent(&owner, base);
        uploads.create(&record).await.expect("create");
        let targets = [Status::Received, Status::Expired, Status::Failed];
        let attempts: Vec<Transition> = (0..RACERS)
            .map(|i| {
                Transition::new(
                    Status::AwaitingUpload,
                    targets[(i % 3) as usize],
                    at(base + i64::from(i)),
                )
                .expect("legal move")
                .with(every_field(round * 100 + i))
            })
            .collect();
        let results = join_all(attempts.iter().map(|t| uploads.transition(&record.id, t))).await;
        let mut winners = Vec::new();
        let mut losers_saw = Vec::new();
        for (t, result) in attempts.iter().zip(results) {
            match result {
                Ok(stored) => winners.push((t, stored)),
                Err(UploadsError::Conflict { current, .. }) => losers_saw.push(*current),
                Err(other) => panic!("{CHECK}: a racing transition failed: {other}"),
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "{CHECK}: round {round}: {} of {RACERS} concurrent transitions from the same status succeeded",
            winners.len()
        );
        let (winning, answered) = &winners[0];
        assert_eq!(
            answered,
            &record.apply(winning).expect("apply"),
            "{CHECK}: the winner's answer differs from apply()"
        );
        assert_eq!(
            &uploads.get(&record.id).await.expect("get"),
            answered,
            "{CHECK}: the stored record is not the winner's"
        );
        for seen in &losers_saw {
            assert_eq!(
                seen, answered,
                "{CHECK}: a losing transition's Conflict must carry the winner's record"
            );
        }
        for t in &attempts {
            let again = uploads.transition(&record.id, t).await;
            expect_conflict(CHECK, again, &record, Status::AwaitingUpload, winning.to);
        }
    }
}

/// The task token is stored with `IN_REVIEW`, kept through `DECIDED`, and cleared by every
/// move to a status that does not await a decision.
pub async fn the_task_token_lives_only_while_a_decision_is_pending(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::the_task_token_lives_only_while_a_decision_is_pending";
    let _check = Check::start(CHECK);
    use Status::*;
    let owner = fresh_owner();
    let endings: [&[(Status, Status)]; 4] = [
        &[(InReview, Decided), (Decided, Approved)],
        &[(InReview, Decided), (Decided, Declined)],
        &[(InReview, Expired)],
        &[(InReview, Failed)],
    ];
    for (n, ending) in endings.into_iter().enumerate() {
        let base = now_ms();
        let token = TaskToken::parse(&format!("secret-task-token-{n}")).expect("token");
        let mut model = intent(&owner, base);
        uploads.create(&model).await.expect("create");
        let receive = Transition::new(AwaitingUpload, Received, at(base + 1)).expect("move");
        model = step(CHECK, uploads, &model, &receive).await;
        let review = Transition::new(Received, InReview, at(base + 2))
            .expect("move")
            .with(RecordChanges {
                task_token: Some(token.clone()),
                ..RecordChanges::default()
            });
        model = step(CHECK, uploads, &model, &review).await;
        for (i, (from, to)) in ending.iter().enumerate() {
            let t = Transition::new(*from, *to, at(base + 3 + i as i64)).expect("move");
            model = step(CHECK, uploads, &model, &t).await;
            let stored = uploads.get(&model.id).await.expect("get");
            let want = if to.awaits_decision() {
                Some(&token)
            } else {
                None
            };
            assert_eq!(
                stored.task_token.as_ref(),
                want,
                "{CHECK}: task token after {from} -> {to}"
            );
        }
    }
}

/// A decision sets `decided_at` through `RecordChanges`; later moves that do not name it keep
/// it, and no transition moves the record to another slot.
pub async fn the_decision_time_is_written_and_kept(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::the_decision_time_is_written_and_kept";
    let _check = Check::start(CHECK);
    use Status::*;
    let base = now_ms();
    let mut model = intent(&fresh_owner(), base);
    uploads.create(&model).await.expect("create");
    for (i, (from, to)) in [(AwaitingUpload, Received), (Received, InReview)]
        .into_iter()
        .enumerate()
    {
        let t = Transition::new(from, to, at(base + 1 + i as i64)).expect("move");
        model = step(CHECK, uploads, &model, &t).await;
    }
    assert_eq!(
        uploads.get(&model.id).await.expect("get").decided_at,
        None,
        "{CHECK}: a record nobody decided on has a decision time"
    );
    let decided_at = at(base + 10);
    let decide = Transition::new(InReview, Decided, at(base + 11))
        .expect("move")
        .with(RecordChanges {
            decided_at: Some(decided_at),
            ..RecordChanges::default()
        });
    model = step(CHECK, uploads, &model, &decide).await;
    let approve = Transition::new(Decided, Approved, at(base + 12)).expect("move");
    step(CHECK, uploads, &model, &approve).await;
    let stored = uploads.get(&model.id).await.expect("get");
    assert_eq!(
        stored.decided_at,
        Some(decided_at),
        "{CHECK}: decided_at was not written by the decision, or was lost by a later move"
    );
    assert_eq!(
        stored.target, model.target,
        "{CHECK}: a transition changed the record's target slot"
    );
}

/// `set_review_stage`: while `IN_REVIEW`, each escalation stage stores its level and its task
/// token, and changes nothing else (the status and `status_since` the review queue is ordered
/// by included); an earlier stage than the stored one, or any stage once the review is
/// decided, is a `Conflict` that writes nothing and shows the record as it stands.
pub async fn a_review_stage_moves_only_forward_and_only_in_review(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::a_review_stage_moves_only_forward_and_only_in_review";
    let _check = Check::start(CHECK);
    use Status::*;
    let owner = fresh_owner();
    let base = now_ms();
    let token = |n: u8| TaskToken::parse(&format!("stage-{n}-token")).expect("token");
    let mut model = intent(&owner, base);
    uploads.create(&model).await.expect("create");
    let receive = Transition::new(AwaitingUpload, Received, at(base + 1)).expect("move");
    model = step(CHECK, uploads, &model, &receive).await;
    let review = Transition::new(Received, InReview, at(base + 2))
        .expect("move")
        .with(RecordChanges {
            task_token: Some(token(0)),
            escalation_levels: Some(2),
            ..RecordChanges::default()
        });
    model = step(CHECK, uploads, &model, &review).await;
    assert_eq!(
        model.review_stage(),
        0,
        "{CHECK}: a new review is at stage 0"
    );

    // Escalate to 1 (no token), then stage 1 stores its token; both are idempotent.
    for (level, with_token) in [(1, None), (1, Some(token(1))), (1, Some(token(1)))] {
        let expected = model
            .with_review_stage(level, with_token.as_ref())
            .expect("the model is in review");
        let answered = uploads
            .set_review_stage(&model.id, level, with_token.as_ref())
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: stage {level} refused: {e}"));
        assert_eq!(answered, expected, "{CHECK}: stage {level} answer");
        let stored = uploads.get(&model.id).await.expect("get");
        assert_eq!(stored, expected, "{CHECK}: stage {level} stored");
        model = expected;
    }
    assert_eq!(model.task_token, Some(token(1)));
    assert_eq!(
        model.status_since,
        at(base + 2),
        "{CHECK}: status_since kept"
    );
    assert_eq!(model.escalation_levels, Some(2));

    // A stale stage 0 (a late repeat) must not take the record back.
    match uploads
        .set_review_stage(&model.id, 0, Some(&token(0)))
        .await
    {
        Err(UploadsError::Conflict { current, .. }) => {
            assert_eq!(*current, model, "{CHECK}: the conflict shows the record");
        }
        other => panic!("{CHECK}: an earlier stage was not refused: {other:?}"),
    }

    // Once decided, no stage is stored: the next stage's worker answers instead.
    let decide = Transition::new(InReview, Decided, at(base + 3)).expect("move");
    model = step(CHECK, uploads, &model, &decide).await;
    match uploads
        .set_review_stage(&model.id, 2, Some(&token(2)))
        .await
    {
        Err(UploadsError::Conflict { current, .. }) => {
            assert_eq!(
                *current, model,
                "{CHECK}: the conflict shows the decided record"
            );
            assert_eq!(current.task_token, Some(token(1)), "{CHECK}: token kept");
        }
        other => panic!("{CHECK}: a decided record took a stage: {other:?}"),
    }
    let stored = uploads.get(&model.id).await.expect("get");
    assert_eq!(stored, model, "{CHECK}: a refused stage writes nothing");
}
