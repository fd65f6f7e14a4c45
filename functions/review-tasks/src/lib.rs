//! The review workflow's task workers, as the `review-tasks` and `sanitize` functions run them:
//! their settings and their composition over the AWS adapters, kept out of `main.rs` so that
//! tests build exactly what Lambda runs. The two functions run this same code; they differ
//! only in the queue they consume and the memory they are given (decoding whole images needs
//! far more), which is why they are two.
//!
//! Each message is a task the review workflow sent with a task token: scan, sanitize, await a
//! decision (store the token for the moderator), publish, decline, expire, or record a
//! failure. The core review does the task and answers the workflow; a task that cannot be
//! done is reported to the workflow as a failure and acknowledged. A message fails only when
//! a retry may help (throttling, a timeout) or when it is not a task message at all, which
//! then ends in the dead-letter queue.

use std::sync::Arc;

use vetted_aws::compose::PipelineConfig;
use vetted_aws::config::AwsContext;
use vetted_aws::sfn::SfnTaskResponder;
use vetted_clamd::ClamdScanner;
use vetted_core::policy::SlotPolicies;
use vetted_core::review::sanitize::DEFAULT_MAX_DECODE_ALLOC;
use vetted_core::review::sanitize::budget::MemoryBudget;
use vetted_core::review::{Review, ScanSettings, Scanning};
use vetted_core::settings::Env;

/// What the function is told by its environment (see `ReviewTasksFunction` and
/// `SanitizeFunction` in the SAM template).
#[derive(Debug, Clone)]
pub struct Config {
    pub common: PipelineConfig,
    /// Used only if a sanitize task is ever routed here; the template sets no policy variables
    /// for this function, so it is the default unless `VETTED_POLICY_*` says otherwise.
    pub policies: SlotPolicies,
    /// The scan task's scanner: clamd over TCP (`VETTED_CLAMD=host:port`), or none, when
    /// `VETTED_SCAN_ALLOW_SKIPPED` (default false) decides whether uploads proceed unscanned.
    pub scan: ScanSettings,
}

impl Config {
    pub fn from_env(env: &Env) -> anyhow::Result<Self> {
        Ok(Self {
            common: PipelineConfig::from_env(env)?,
            policies: SlotPolicies::default().with_env(env)?,
            scan: ScanSettings::from_env(env, false)?,
        })
    }
}

/// The review service over S3, DynamoDB, Step Functions and EventBridge. It only answers
/// tasks, never starts a review: a token names its own execution, so it needs no state
/// machine (and the template gives this function none).
pub fn review(ctx: &AwsContext, config: Config) -> Review {
    Review {
        ports: config.common.ports(ctx),
        tasks: Arc::new(SfnTaskResponder::new(ctx.sfn())),
        policies: config.policies,
        max_decode_alloc: DEFAULT_MAX_DECODE_ALLOC,
        memory: MemoryBudget::default(),
        scanning: match &config.scan.clamd {
            Some(address) => Scanning::with(Arc::new(ClamdScanner::new(
                address.clone(),
                config.scan.timeout,
            ))),
            None => Scanning::without_scanner(config.scan.allow_skipped),
        },
    }
}
