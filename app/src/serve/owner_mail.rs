//! Email in `vetted serve`: which mailer (on the embedded backend SMTP from the
//! settings, or `.eml` files in `{data}/outbox-mail/` without them; on AWS, SES from
//! `[mail] from`), the owner-page links, and the core's [`EmailNotifier`] over the backend's
//! notifications store. The account store's codes use the same mailer.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use vetted_core::Clock;
use vetted_core::notify::{EmailNotifier, PageLinks};
use vetted_core::ports::Mailer;

use super::config::{DEFAULT_FROM, MailSettings};
use super::pipeline::{Backend, Pipeline};
use crate::mail::{FileMailer, SmtpMailer, parse_sender};

/// The directory under `--data` where mail goes without SMTP settings.
pub const OUTBOX_MAIL_DIR: &str = "outbox-mail";

/// The backend's mailer and where its mail goes, in words: SES on AWS (with `[mail] from`),
/// SMTP from `[mail.smtp]` or `.eml` files under `{data}/outbox-mail/` on one machine. `None`
/// on AWS without a sender. Owner emails and the account store's codes both go through it.
pub fn mailer(
    pipeline: &Pipeline,
    settings: &MailSettings,
    data: &Path,
) -> anyhow::Result<Option<(Arc<dyn Mailer>, String)>> {
    let from = parse_sender(settings.from.as_deref().unwrap_or(DEFAULT_FROM))
        .map_err(|e| anyhow::anyhow!("[mail] from: {e}"))?;
    Ok(Some(match (&pipeline.backend, &settings.smtp) {
        (Backend::Aws { .. }, _) => match (&pipeline.mailer, &settings.from) {
            (Some(mailer), Some(from)) => (mailer.clone(), format!("SES, from {from}")),
            _ => {
                tracing::warn!("no [mail] from (the SES identity): owner emails are off");
                return Ok(None);
            }
        },
        (Backend::Embedded { .. }, Some(smtp)) => (
            Arc::new(SmtpMailer::new(smtp, from).context("[mail.smtp]")?),
            format!("SMTP server {}:{}", smtp.host, smtp.port()),
        ),
        (Backend::Embedded { .. }, None) => {
            let dir = data.join(OUTBOX_MAIL_DIR);
            let mailer = FileMailer::new(&dir, from)?;
            (Arc::new(mailer), format!("files in {}", dir.display()))
        }
    }))
}

/// The owner notifier over the backend's notifications store and `mailer`; `None` on a
/// backend without a notifications store or without a mailer.
pub fn build(
    pipeline: &Pipeline,
    mailer: Option<&(Arc<dyn Mailer>, String)>,
    settings: &MailSettings,
    public_url: &str,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Option<(Arc<EmailNotifier>, String)>> {
    let (Some(notifications), Some((mailer, place))) = (pipeline.notifications.clone(), mailer)
    else {
        return Ok(None);
    };
    let links = PageLinks::new(settings.public_url.as_deref().unwrap_or(public_url))
        .context("[mail] public_url")?;
    tracing::info!(to = %place, "owner emails");
    Ok(Some((
        Arc::new(EmailNotifier {
            restaurants: pipeline.restaurants.clone(),
            notifications,
            mailer: mailer.clone(),
            clock,
            links,
        }),
        place.clone(),
    )))
}
