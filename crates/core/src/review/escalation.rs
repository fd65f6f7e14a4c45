//! Review escalation: at configured shares of the review timeout (by default 50% and 90%) a
//! review still waiting for a moderator is escalated. The workflow does the timing: the await
//! is split into stages ([`ReviewStages`], computed here at start), and between two stages an
//! `Escalate` task runs (see `statemachine/review.asl.json`).
//!
//! Each await stage issues its own task token, which its worker stores on the record
//! (`Uploads::set_review_stage`, conditional on `IN_REVIEW` and on no later stage having
//! stored one). So a decision can race a stage change, and both sides are handled:
//! - the decision answered a token whose stage has ended: it gets `TaskGone`. Unless that was
//!   the last stage (a real timeout), the review is still open: the record stays `DECIDED`,
//!   the decision is reported pending, and
//! - the next stage's worker, finding the record `DECIDED` (before or after trying to store
//!   its token), answers its own token with the recorded decision at once.
//! - If the next stage stored its token before the decision was written, the decision finds a
//!   newer token on the record and delivers to it.

use std::fmt;
use std::str::FromStr;

use serde_json::json;
use tracing::{info, warn};

use super::decision::{DecisionError, DecisionOutcome, Delivery};
use super::tasks::Step;
use super::withdraw::WITHDRAW_ANSWER;
use super::{Review, TaskMessage};
use crate::events::UploadEvent;
use crate::ids::TaskToken;
use crate::ports::{ReviewStages, UploadsError};
use crate::record::UploadRecord;
use crate::service::StepError;
use crate::status::Status;

/// The most escalation levels the workflow file has stages for.
pub const MAX_ESCALATION_LEVELS: usize = 2;

/// The points of the review timeout, in percent, at which a review escalates: ascending,
/// each in 1..=99, at most [`MAX_ESCALATION_LEVELS`]. Empty: no escalation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationShares(Vec<u8>);

impl Default for EscalationShares {
    /// 50% and 90%.
    fn default() -> Self {
        Self(vec![50, 90])
    }
}

impl EscalationShares {
    /// No escalation: one await stage for the whole timeout.
    pub fn none() -> Self {
        Self(Vec::new())
    }

    /// Percentages, validated as [`EscalationShares`] says.
    pub fn new(percents: Vec<u8>) -> Result<Self, String> {
        if percents.len() > MAX_ESCALATION_LEVELS {
            return Err(format!(
                "at most {MAX_ESCALATION_LEVELS} escalation points, got {}",
                percents.len()
            ));
        }
        if let Some(bad) = percents.iter().find(|p| !(1..=99).contains(*p)) {
            return Err(format!("{bad}% is not between 1% and 99%"));
        }
        if percents.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err("escalation points must be ascending".to_owned());
        }
        Ok(Self(percents))
    }

    pub fn percents(&self) -> &[u8] {
        &self.0
    }

    /// The await stages of a review of `timeout_seconds`: each point is rounded down to a
    /// whole second; a point that would leave a stage shorter than one second is dropped
    /// (a very short review escalates less, never waits zero seconds).
    pub fn stages(&self, timeout_seconds: u64) -> ReviewStages {
        let timeout = timeout_seconds.max(1);
        let mut points: Vec<u64> = Vec::new();
        for percent in &self.0 {
            let point = timeout.saturating_mul(u64::from(*percent)) / 100;
            let after_previous = points.last().copied().unwrap_or(0);
            if point > after_previous && point < timeout {
                points.push(point);
            }
        }
        let mut bounds = points.clone();
        bounds.push(timeout);
        let mut previous = 0;
        let lengths: Vec<u64> = bounds
            .iter()
            .map(|bound| {
                let length = bound - previous;
                previous = *bound;
                length
            })
            .collect();
        ReviewStages {
            escalation_levels: u8::try_from(points.len()).unwrap_or(u8::MAX),
            initial_seconds: lengths[0],
            level_1_seconds: lengths.get(1).copied(),
            level_2_seconds: lengths.get(2).copied(),
        }
    }
}

impl FromStr for EscalationShares {
    type Err = String;

    /// Comma-separated percentages, `"50,90"`; `"none"` or `""` for no escalation.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("none") {
            return Ok(Self::none());
        }
        let percents = text
            .split(',')
            .map(|part| {
                let part = part.trim().trim_end_matches('%');
                part.parse::<u8>()
                    .map_err(|_| format!("{part:?} is not a whole percentage"))
            })
            .collect::<Result<Vec<u8>, String>>()?;
        Self::new(percents)
    }
}

impl fmt::Display for EscalationShares {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let parts: Vec<String> = self.0.iter().map(u8::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

impl Review {
    /// `escalate`: flags the review with the level and announces `review.escalated` (which
    /// webhooks and the moderators' escalation emails take from there). A review decided or
    /// withdrawn meanwhile is not escalated; the answer lets the workflow go on to the next
    /// await stage either way, whose worker then answers with the decision.
    pub(super) async fn escalate_step(&self, message: &TaskMessage) -> Result<Step, StepError> {
        let record = self.get(&message.upload_id).await?;
        if !record.status.is_open_review() {
            info!(status = %record.status, "no longer in review; not escalated");
            return Ok(Step::Answer(json!({ "escalated": null })));
        }
        let level = message.level;
        let escalated = match self.set_review_stage(&record, level, None).await? {
            Ok(escalated) => escalated,
            // A later stage has the record already: this is a late repeat.
            Err(current) if current.status.is_open_review() => current,
            Err(current) => {
                info!(status = %current.status, "no longer in review; not escalated");
                return Ok(Step::Answer(json!({ "escalated": null })));
            }
        };
        let event = UploadEvent::escalated(&escalated, level, self.ports.clock.now());
        self.ports
            .events
            .publish(&event)
            .await
            .map_err(|source| StepError::Events {
                upload: escalated.id,
                source,
            })?;
        warn!(level, "review escalated");
        Ok(Step::Answer(json!({ "escalated": level })))
    }

    /// `await_decision` after an escalation: stores this stage's token, or, if the review was
    /// decided (or withdrawn) meanwhile, answers this stage's task with that at once.
    pub(super) async fn await_later_stage(
        &self,
        record: &UploadRecord,
        message: &TaskMessage,
    ) -> Result<Step, StepError> {
        let current = match record.status {
            Status::InReview | Status::AwaitingSecond => {
                match self
                    .set_review_stage(record, message.stage, Some(&message.task_token))
                    .await?
                {
                    Ok(_) => return Ok(Step::Wait),
                    Err(current) => current,
                }
            }
            _ => record.clone(),
        };
        match current.status {
            Status::Decided => match current.decision {
                Some(decision) => {
                    info!(
                        ?decision,
                        "decided during a stage change; answering this stage"
                    );
                    Ok(Step::Answer(json!({ "decision": decision })))
                }
                None => Ok(Step::Fail("decided without a decision".to_owned())),
            },
            Status::Withdrawn => {
                let answer = json!({ "decision": WITHDRAW_ANSWER });
                self.end_withdrawn(&current, answer).await
            }
            // A later stage holds the record: this message is a stale repeat.
            _ => Ok(Step::Nothing),
        }
    }

    /// [`crate::ports::Uploads::set_review_stage`]: `Err` is the record as it stands when
    /// the condition failed.
    async fn set_review_stage(
        &self,
        record: &UploadRecord,
        level: u8,
        token: Option<&TaskToken>,
    ) -> Result<Result<UploadRecord, UploadRecord>, StepError> {
        match self
            .ports
            .uploads
            .set_review_stage(&record.id, level, token)
            .await
        {
            Ok(staged) => Ok(Ok(staged)),
            Err(UploadsError::Conflict { current, .. }) => Ok(Err(*current)),
            Err(source) => Err(StepError::Uploads {
                upload: record.id,
                source,
            }),
        }
    }

    /// A decision's answer found its task gone. A newer stage's token on the record gets the
    /// decision; the last stage's token gone means the review timed out (the upload expires,
    /// as before escalation existed); otherwise the workflow is between stages and the next
    /// stage's worker answers with the recorded decision.
    pub(super) async fn after_task_gone(
        &self,
        decided: UploadRecord,
        token: TaskToken,
    ) -> Result<DecisionOutcome, DecisionError> {
        let mut tried = token;
        for _ in 0..=MAX_ESCALATION_LEVELS {
            let current = self.get_for_decision(decided.id).await?;
            match current.status {
                Status::Decided => {}
                Status::Expired => return Err(DecisionError::TimedOut { id: decided.id }),
                // The workflow has taken the decision up already.
                _ => return Ok(DecisionOutcome::Delivered(current)),
            }
            match current.task_token.clone() {
                Some(newer) if newer != tried => match self.deliver(&current, &newer).await {
                    Delivery::Done => return Ok(DecisionOutcome::Delivered(current)),
                    Delivery::Later => return Ok(DecisionOutcome::Pending(current)),
                    Delivery::TaskGone => tried = newer,
                },
                _ if current.at_last_review_stage() => {
                    self.expire_decided(&current).await?;
                    return Err(DecisionError::TimedOut { id: decided.id });
                }
                _ => {
                    info!("the review is between escalation stages; the next stage answers");
                    return Ok(DecisionOutcome::Pending(current));
                }
            }
        }
        Ok(DecisionOutcome::Pending(decided))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_splits_at_half_and_nine_tenths() {
        let stages = EscalationShares::default().stages(100);
        assert_eq!(stages.initial_seconds, 50);
        assert_eq!(stages.level_1_seconds, Some(40));
        assert_eq!(stages.level_2_seconds, Some(10));
        assert_eq!(stages.escalation_levels, 2);
    }

    #[test]
    fn none_is_one_stage_for_the_whole_timeout() {
        let stages = EscalationShares::none().stages(300);
        assert_eq!(stages, ReviewStages::without_escalation(300));
    }

    #[test]
    fn a_point_that_would_leave_an_empty_stage_is_dropped() {
        let stages = EscalationShares::default().stages(1);
        assert_eq!(stages, ReviewStages::without_escalation(1));
        let stages = EscalationShares::default().stages(2);
        assert_eq!(stages.initial_seconds, 1);
        assert_eq!(stages.level_1_seconds, Some(1));
        assert_eq!(stages.level_2_seconds, None);
    }

    #[test]
    fn shares_parse_from_settings_text() {
        assert_eq!("50,90".parse(), Ok(EscalationShares::default()));
        assert_eq!(" 50% , 90% ".parse(), Ok(EscalationShares::default()));
        assert_eq!("none".parse(), Ok(EscalationShares::none()));
        assert!("90,50".parse::<EscalationShares>().is_err());
        assert!("0".parse::<EscalationShares>().is_err());
        assert!("100".parse::<EscalationShares>().is_err());
        assert!("10,20,30".parse::<EscalationShares>().is_err());
        assert!("half".parse::<EscalationShares>().is_err());
    }
}
