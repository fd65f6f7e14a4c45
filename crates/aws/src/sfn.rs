//! `SfnReviewWorkflow`: the review workflow port over Step Functions.
