//! The status machine of an upload: a table of the moves allowed, and nothing else.
//!
//! ```text
//! AWAITING_UPLOAD → RECEIVED → IN_REVIEW → DECIDED → APPROVED → PUBLISHED
//!                            ↘ REJECTED  ↘ AWAITING_SECOND ↗  ↘ DECLINED
//! AWAITING_UPLOAD → EXPIRED    IN_REVIEW, AWAITING_SECOND, DECIDED → EXPIRED
//! AWAITING_UPLOAD, RECEIVED, IN_REVIEW, AWAITING_SECOND → WITHDRAWN (the owner takes it back)
//! any non-final → FAILED;  FAILED → RECEIVED (operator redrive)
//! ```
//!
//! `DECIDED` is the moderator's conditional write: it records who decided and what, before the
//! decision is sent to the workflow, so that two moderators cannot both win. `DECIDED → EXPIRED`
//! covers a decision that reached the workflow after the review had already timed out.
//!
//! `AWAITING_SECOND` is four-eyes review: where a slot kind requires two approvals, the first
//! one moves the upload there and records who gave it; a second, different moderator's
//! approval (or either moderator's decline) then makes the `DECIDED` write. The workflow's
//! task token stays on the record meanwhile, as in `IN_REVIEW`.
//!
//! Status moves only forward. Adapters make every move a conditional write on the expected
//! current status, so duplicates, retries and races have exactly one effect.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    AwaitingUpload,
    Received,
    InReview,
    Decided,
    Approved,
    Published,
    Rejected,
    Declined,
    Expired,
    Failed,
    Withdrawn,
    AwaitingSecond,
}

use Status::*;

/// Every move the machine allows. A pair not listed here is refused.
const MOVES: &[(Status, Status)] = &[
    (AwaitingUpload, Received),
    (AwaitingUpload, Expired),
    (AwaitingUpload, Failed),
    (AwaitingUpload, Withdrawn),
    (Received, InReview),
    (Received, Rejected),
    (Received, Failed),
    (Received, Withdrawn),
    (InReview, Decided),
    (InReview, AwaitingSecond),
    (InReview, Expired),
    (InReview, Failed),
    (InReview, Withdrawn),
    (AwaitingSecond, Decided),
    (AwaitingSecond, Expired),
    (AwaitingSecond, Failed),
    (AwaitingSecond, Withdrawn),
    (Decided, Approved),
    (Decided, Declined),
    (Decided, Expired),
    (Decided, Failed),
    (Approved, Published),
    (Approved, Failed),
    (Failed, Received),
];

/// A move the status machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("an upload cannot move from {from} to {to}")]
pub struct IllegalMove {
    pub from: Status,
    pub to: Status,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown status {0:?}")]
pub struct UnknownStatus(pub String);

impl Status {
    pub const ALL: [Status; 12] = [
        AwaitingUpload,
        Received,
        InReview,
        Decided,
        Approved,
        Published,
        Rejected,
        Declined,
        Expired,
        Failed,
        Withdrawn,
        AwaitingSecond,
    ];

    /// Checks a move against the table.
    pub fn check_move(self, to: Status) -> Result<(), IllegalMove> {
        if MOVES.contains(&(self, to)) {
            Ok(())
        } else {
            Err(IllegalMove { from: self, to })
        }
    }

    /// The file arrived and no outcome is known yet: a change request a slot shows as pending.
    /// `AWAITING_UPLOAD` is not one yet (no file), and `FAILED` waits for an operator.
    pub fn is_in_progress(self) -> bool {
        matches!(
            self,
            Received | InReview | AwaitingSecond | Decided | Approved
        )
    }

    /// No move leaves a final status.
    pub fn is_final(self) -> bool {
        !MOVES.iter().any(|(from, _)| *from == self)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AwaitingUpload => "AWAITING_UPLOAD",
            Received => "RECEIVED",
            InReview => "IN_REVIEW",
            Decided => "DECIDED",
            Approved => "APPROVED",
            Published => "PUBLISHED",
            Rejected => "REJECTED",
            Declined => "DECLINED",
            Expired => "EXPIRED",
            Failed => "FAILED",
            Withdrawn => "WITHDRAWN",
            AwaitingSecond => "AWAITING_SECOND",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, UnknownStatus> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole machine written out a second time, as a matrix, so that a change to `MOVES`
    /// has to be made twice, on purpose. Rows are `from`, columns are `to`, in `Status::ALL`
    /// order: AWAITING, RECEIVED, IN_REVIEW, DECIDED, APPROVED, PUBLISHED, REJECTED, DECLINED,
    /// EXPIRED, FAILED, WITHDRAWN, AWAITING_SECOND.
    const EXPECTED: [[u8; 12]; 12] = [
        /* AWAITING_UPLOAD */ [0, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0],
        /* RECEIVED        */ [0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0],
        /* IN_REVIEW       */ [0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1],
        /* DECIDED         */ [0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0],
        /* APPROVED        */ [0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0],
        /* PUBLISHED       */ [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        /* REJECTED        */ [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        /* DECLINED        */ [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        /* EXPIRED         */ [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        /* FAILED          */ [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        /* WITHDRAWN       */ [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        /* AWAITING_SECOND */ [0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0],
    ];

    #[test]
    fn every_pair_of_statuses_is_allowed_or_refused_exactly_as_the_matrix_says() {
        for (row, from) in Status::ALL.into_iter().enumerate() {
            for (col, to) in Status::ALL.into_iter().enumerate() {
                let allowed = EXPECTED[row][col] == 1;
                match from.check_move(to) {
                    Ok(()) => assert!(allowed, "{from} -> {to} is allowed but must not be"),
                    Err(e) => {
                        assert!(!allowed, "{from} -> {to} is refused but must be allowed");
                        assert_eq!(e, IllegalMove { from, to });
                    }
                }
            }
        }
    }

    #[test]
    fn no_status_moves_to_itself() {
        for status in Status::ALL {
            assert!(status.check_move(status).is_err());
        }
    }

    #[test]
    fn final_statuses_are_the_five_outcomes() {
        let finals: Vec<Status> = Status::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(
            finals,
            vec![Published, Rejected, Declined, Expired, Withdrawn]
        );
    }

    #[test]
    fn every_status_but_the_first_can_be_reached() {
        for status in Status::ALL.into_iter().filter(|s| *s != AwaitingUpload) {
            assert!(
                MOVES.iter().any(|(_, to)| *to == status),
                "{status} unreachable"
            );
        }
    }

    #[test]
    fn text_and_json_spellings_agree() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>(), Ok(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
    }
}
