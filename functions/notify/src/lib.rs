//! The notify function's composition, kept out of `main.rs` so that tests build exactly what
//! Lambda runs.
//!
//! An EventBridge rule sends the bus's owner-facing outcomes (`upload.rejected`,
//! `upload.published`, `review.declined`, `upload.expired`, `upload.failed`) to the notify
//! queue; each message is handled by the core's [`NotifyQueue`], the same consumer
//! `vetted serve --backend aws` runs: every opted-in member of the restaurant gets one email
//! through SES, and the sent ledger in DynamoDB makes SQS's redeliveries send nothing twice.
//! A message fails (and is retried, then dead-lettered) only when a retry may help, or when
//! it is not a Vetted event.

use std::sync::Arc;

use vetted_aws::config::AwsContext;
use vetted_aws::dynamo::{DynamoNotifications, DynamoRestaurants};
use vetted_aws::ses::SesMailer;
use vetted_core::notify::{EmailNotifier, NotifyQueue, PageLinks};
use vetted_core::settings::Env;
use vetted_core::{Clock, SystemClock};

/// What the function is told by its environment (see `NotifyFunction` in the SAM template).
#[derive(Debug, Clone)]
pub struct Config {
    /// `VETTED_RESTAURANTS_TABLE`: who the members of a restaurant are.
    pub restaurants_table: String,
    /// `VETTED_NOTIFICATIONS_TABLE`: preferences and the sent ledger.
    pub notifications_table: String,
    /// `VETTED_MAIL_FROM`: the sender, `Name <address>` or an address, of a verified SES
    /// identity.
    pub mail_from: String,
    /// `VETTED_OWNER_PAGE_URL`: where the emails' links point (the site's origin).
    pub links: PageLinks,
}

impl Config {
    pub fn from_env(env: &Env) -> anyhow::Result<Self> {
        let base = env.required("VETTED_OWNER_PAGE_URL")?;
        Ok(Self {
            restaurants_table: env.required("VETTED_RESTAURANTS_TABLE")?,
            notifications_table: env.required("VETTED_NOTIFICATIONS_TABLE")?,
            mail_from: env.required("VETTED_MAIL_FROM")?,
            links: PageLinks::new(&base)
                .map_err(|e| anyhow::anyhow!("VETTED_OWNER_PAGE_URL {base:?}: {}", e.0))?,
        })
    }
}

/// The notify queue's consumer over DynamoDB and SES, with `clock`.
pub fn notify_queue(ctx: &AwsContext, config: Config, clock: Arc<dyn Clock>) -> NotifyQueue {
    NotifyQueue {
        notifier: Arc::new(EmailNotifier {
            restaurants: Arc::new(DynamoRestaurants::new(
                ctx.dynamodb(),
                &config.restaurants_table,
            )),
            notifications: Arc::new(DynamoNotifications::new(
                ctx.dynamodb(),
                &config.notifications_table,
            )),
            mailer: Arc::new(SesMailer::new(ctx.sesv2(), config.mail_from)),
            clock,
            links: config.links,
        }),
    }
}

/// [`notify_queue`] with the system clock, as the function runs it.
pub fn function(ctx: &AwsContext, config: Config) -> NotifyQueue {
    notify_queue(ctx, config, Arc::new(SystemClock))
}
