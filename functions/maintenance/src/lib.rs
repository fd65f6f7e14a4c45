//! The maintenance function: one pass of `vetted_core::maintenance` over the AWS adapters, run
//! by an EventBridge schedule. It finishes what the event-driven path left undone: an upload
//! stored whose S3 notification never came, an intent whose deadline passed unused, an upload
//! intake claimed but did not finish, a moderator's decision whose answer never reached Step
//! Functions. Without it these records would wait until their TTL or their review timeout.
//!
//! Its settings are the intake function's plus `VETTED_MAINTENANCE_GRACE_SECONDS`: records
//! younger than that are left to the ordinary path.

use std::time::Duration;

use vetted_aws::config::AwsContext;
use vetted_core::intake::Intake;
use vetted_core::maintenance::{MaintenanceReport, run_pass};
use vetted_core::review::Review;
use vetted_core::settings::Env;

/// How old a record must be before a pass touches it, unless the environment says otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(120);

/// What the function is told by its environment (see `MaintenanceFunction` in the template).
#[derive(Debug, Clone)]
pub struct Config {
    pub intake: intake::Config,
    pub grace: Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> anyhow::Result<Self> {
        Ok(Self {
            intake: intake::Config::from_env(env)?,
            grace: env.seconds_or("VETTED_MAINTENANCE_GRACE_SECONDS", DEFAULT_GRACE)?,
        })
    }
}

/// The intake and review services a pass works through.
pub struct Maintenance {
    intake: Intake,
    review: Review,
    grace: Duration,
}

impl Maintenance {
    pub fn new(ctx: &AwsContext, config: Config) -> Self {
        let review = review_tasks::review(
            ctx,
            review_tasks::Config {
                common: config.intake.common.clone(),
                policies: config.intake.policies.clone(),
                // Maintenance never scans: it only expires and redrives.
                scan: vetted_core::review::ScanSettings {
                    clamd: None,
                    timeout: vetted_core::review::scan::DEFAULT_SCAN_TIMEOUT,
                    allow_skipped: false,
                },
            },
        );
        Self {
            intake: intake::intake(ctx, config.intake),
            review,
            grace: config.grace,
        }
    }

    /// Runs one pass. A part that failed as a whole (a service unreachable) makes the
    /// invocation an error, so that it is counted, alarmed on and retried; records that could
    /// not be handled one by one are logged and left to the next pass.
    pub async fn run(&self) -> Result<MaintenanceReport, anyhow::Error> {
        let report = run_pass(&self.intake, &self.review, self.grace).await;
        if report.failures.is_empty() {
            Ok(report)
        } else {
            Err(anyhow::anyhow!(
                "maintenance pass incomplete: {}",
                report.failures.join("; ")
            ))
        }
    }
}
