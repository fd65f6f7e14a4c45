//! Owner notifications: when an upload reaches an outcome, every member of its restaurant who
//! opted in gets one email, at most once per (upload, status).
//!
//! - **Which outcomes.** `REJECTED`, `PUBLISHED` (an approval alone is not final, so it sends
//!   nothing), `DECLINED`, `EXPIRED` and `FAILED` ([`Notice::for_event`]). Nothing is sent for
//!   a received, in-review or withdrawn upload.
//! - **Who.** The restaurant's members (`Restaurants::members`) whose stored [`Preference`]
//!   is enabled. The address is the one the member's own verified token carried when they
//!   opted in; no request ever names an address.
//! - **At most once.** Before sending, [`OwnerNotifier`] claims the ledger entry (upload,
//!   status, user) with a create-if-absent write; only the claim that stored it sends. So an
//!   event delivered three times sends one email. If the mailer fails, the claim is released
//!   and the error returned, so the event's redelivery tries again. If the process dies
//!   between the claim and the mailer's answer, the entry stays and that email is never sent:
//!   the issue asks for at most once, and this is the price.
//! - **What.** [`template`] renders a short plain-text and HTML message, in words, with a
//!   link to the owner page.

mod queue;
pub mod template;

pub use queue::NotifyQueue;

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::UploadId;
use crate::events::{EventType, UploadEvent};
use crate::ids::OwnerId;
use crate::ports::{
    Email, MailError, Mailer, Notifications, NotificationsError, Restaurants, RestaurantsError,
    Retryable,
};
use crate::restaurant::RestaurantId;
use crate::status::Status;
use crate::time::{Clock, Timestamp};

/// An email address as a verified token carried it, checked enough to be a safe header
/// value: 3 to 254 bytes, one `@` with something on both sides, no spaces, no control
/// characters and none of `<>()[],;:"\`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not a usable email address")]
pub struct InvalidEmail;

impl EmailAddress {
    pub const MAX_BYTES: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let ok_char =
            |c: char| !c.is_control() && !c.is_whitespace() && !"<>()[],;:\"\\".contains(c);
        let Some((local, domain)) = raw.split_once('@') else {
            return Err(InvalidEmail);
        };
        if raw.len() > Self::MAX_BYTES
            || local.is_empty()
            || domain.is_empty()
            || domain.contains('@')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || !raw.chars().all(ok_char)
        {
            return Err(InvalidEmail);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Addresses are personal data: logs show the domain only.
impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = self.0.split_once('@').map_or("", |(_, d)| d);
        write!(f, "EmailAddress(…@{domain})")
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = InvalidEmail;
    fn try_from(raw: String) -> Result<Self, InvalidEmail> {
        Self::parse(&raw)
    }
}

impl From<EmailAddress> for String {
    fn from(address: EmailAddress) -> String {
        address.0
    }
}

/// One user's choice. `enabled` with no address sends nothing (the API never stores that).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preference {
    pub enabled: bool,
    /// From the user's verified token when they last set the preference.
    pub address: Option<EmailAddress>,
    pub updated_at: Timestamp,
}

impl Preference {
    /// Where to send, if this user wants email.
    pub fn recipient(&self) -> Option<&EmailAddress> {
        self.address.as_ref().filter(|_| self.enabled)
    }
}

/// A ledger entry: this user was sent (or is being sent) the email for this upload's status.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SentKey {
    pub upload: UploadId,
    pub status: Status,
    pub user: OwnerId,
}

/// The outcomes owners hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Rejected,
    Published,
    Declined,
    Expired,
    Failed,
}

impl Notice {
    /// The events that email owners; on AWS, the EventBridge rule that feeds the notify
    /// queue matches exactly these.
    pub const EVENT_TYPES: [EventType; 5] = [
        EventType::UploadRejected,
        EventType::UploadPublished,
        EventType::ReviewDeclined,
        EventType::UploadExpired,
        EventType::UploadFailed,
    ];

    /// The notice an event calls for; `None` for every event that is not an outcome.
    pub fn for_event(event: &UploadEvent) -> Option<Self> {
        match event.event_type {
            EventType::UploadRejected => Some(Notice::Rejected),
            EventType::UploadPublished => Some(Notice::Published),
            EventType::ReviewDeclined => Some(Notice::Declined),
            EventType::UploadExpired => Some(Notice::Expired),
            EventType::UploadFailed => Some(Notice::Failed),
            _ => None,
        }
    }
}

/// Builds links to the owner page from the public base URL (`https://vetted.example`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerLinks {
    base: url::Url,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the public base URL {0:?} is not an absolute http(s) URL")]
pub struct InvalidBaseUrl(pub String);

impl OwnerLinks {
    pub fn new(base: &str) -> Result<Self, InvalidBaseUrl> {
        let invalid = || InvalidBaseUrl(base.to_owned());
        let mut url = url::Url::parse(base).map_err(|_| invalid())?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(invalid());
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        url.set_query(None);
        url.set_fragment(None);
        Ok(Self { base: url })
    }

    /// The owner page, opened on the restaurant.
    pub fn owner_page(&self, restaurant: &RestaurantId) -> String {
        let mut url = self.base.clone();
        url.query_pairs_mut()
            .append_pair("restaurant", restaurant.as_str());
        url.to_string()
    }
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NotifyError {
    #[error("reading the restaurant's members")]
    Members(#[source] RestaurantsError),
    #[error("the notifications store")]
    Store(#[source] NotificationsError),
    #[error("sending to {failed} member(s) failed; the first failure")]
    Send {
        failed: usize,
        #[source]
        first: MailError,
    },
}

impl Retryable for NotifyError {
    fn is_retryable(&self) -> bool {
        match self {
            NotifyError::Members(RestaurantsError::Backend(e)) => e.retryable,
            NotifyError::Members(_) => false,
            NotifyError::Store(e) => e.is_retryable(),
            NotifyError::Send { first, .. } => first.is_retryable(),
        }
    }
}

/// What handling one event did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotifyOutcome {
    /// Emails the mailer accepted now.
    pub sent: usize,
    /// Opted-in members whose email for this (upload, status) was already claimed.
    pub already_sent: usize,
}

/// Turns events into owner emails. One per process; cheap to share.
#[derive(Clone)]
pub struct OwnerNotifier {
    pub restaurants: Arc<dyn Restaurants>,
    pub notifications: Arc<dyn Notifications>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Arc<dyn Clock>,
    pub links: OwnerLinks,
}

impl OwnerNotifier {
    /// Emails every opted-in member of the event's restaurant about the event's outcome,
    /// unless the ledger says it was sent. Handling the same event again sends nothing new;
    /// after an error, handling it again sends only what failed.
    #[tracing::instrument(skip_all, fields(upload_id = %event.upload_id, event = event.event_type.as_str()))]
    pub async fn handle(&self, event: &UploadEvent) -> Result<NotifyOutcome, NotifyError> {
        let mut outcome = NotifyOutcome::default();
        let Some(notice) = Notice::for_event(event) else {
            return Ok(outcome);
        };
        let members = match self.restaurants.members(&event.restaurant).await {
            Ok(members) => members,
            // A restaurant deleted since has nobody to tell.
            Err(RestaurantsError::NotFound(_)) => return Ok(outcome),
            Err(e) => return Err(NotifyError::Members(e)),
        };
        let name = match self.restaurants.get(&event.restaurant).await {
            Ok(restaurant) => restaurant.name,
            Err(_) => event.restaurant.to_string(),
        };
        let link = self.links.owner_page(&event.restaurant);
        let (mut failed, mut first) = (0, None);
        for member in members {
            let preference = self
                .notifications
                .preference(&member.user)
                .await
                .map_err(NotifyError::Store)?;
            let Some(to) = preference.as_ref().and_then(Preference::recipient) else {
                continue;
            };
            let key = SentKey {
                upload: event.upload_id,
                status: event.status,
                user: member.user.clone(),
            };
            let claimed = self
                .notifications
                .claim(&key, self.clock.now())
                .await
                .map_err(NotifyError::Store)?;
            if !claimed {
                outcome.already_sent += 1;
                continue;
            }
            let message = template::render(notice, event, &name, &link);
            let email = Email {
                to: to.clone(),
                subject: message.subject,
                text: message.text,
                html: message.html,
            };
            match self.mailer.send(&email).await {
                Ok(()) => {
                    outcome.sent += 1;
                    tracing::info!(user = %member.user, "owner email sent");
                }
                Err(error) => {
                    tracing::warn!(user = %member.user, error = %error, "owner email failed");
                    // Let a redelivery try again; if this release fails too, the entry stays
                    // and this email is lost (at most once).
                    if let Err(e) = self.notifications.release(&key).await {
                        tracing::error!(user = %member.user, error = %e, "releasing a claim failed");
                    }
                    failed += 1;
                    first.get_or_insert(error);
                }
            }
        }
        match first {
            Some(first) => Err(NotifyError::Send { failed, first }),
            None => Ok(outcome),
        }
    }
}

#[cfg(test)]
mod tests;
