//! Email notifications. Owners: when an upload reaches an outcome, every member of its
//! restaurant who opted in gets one email, at most once per (upload, status). Moderators: when
//! a review escalates, every moderator subscribed to escalations gets one email per level.
//!
//! - **Which outcomes.** `REJECTED`, `PUBLISHED` (an approval alone is not final, so it sends
//!   nothing), `DECLINED`, `EXPIRED` and `FAILED` ([`Notice::for_event`]). Nothing is sent for
//!   a received, in-review or withdrawn upload.
//! - **Who.** The restaurant's members (`Restaurants::members`) whose stored [`Preference`]
//!   is enabled. The address is the one the member's own verified token carried when they
//!   opted in; no request ever names an address.
//! - **At most once.** Before sending, [`EmailNotifier`] claims the ledger entry (upload,
//!   status, user) with a create-if-absent write; only the claim that stored it sends. So an
//!   event delivered three times sends one email. If the mailer fails, the claim is released
//!   and the error returned, so the event's redelivery tries again. If the process dies
//!   between the claim and the mailer's answer, the entry stays and that email is never sent:
//!   the issue asks for at most once, and this is the price.
//! - **What.** [`template`] renders a short plain-text and HTML message, in words, with a
//!   link to the owner page.
//! - **Escalations.** `review.escalated` ([`Notice::Escalated`]) goes to the moderators who
//!   subscribed ([`EscalationSubscriber`], through `/api/me/escalations`), with a link to the
//!   console's queue the review waits in. The ledger entry is (upload, level, moderator), so
//!   each level is sent once. A subscription is kept until its moderator cancels it: a user
//!   who loses the moderator role should be unsubscribed by whoever removes the role (the
//!   role lives in the token issuer, which this code cannot watch).

mod queue;
pub mod template;

pub use queue::NotifyQueue;

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::UploadId;
use crate::events::{EventType, UploadEvent};
use crate::ids::{ModeratorId, OwnerId};
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

/// A ledger entry: this user was sent (or is being sent) the email for this upload's status,
/// or for one escalation level of its review.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SentKey {
    pub upload: UploadId,
    pub status: Status,
    /// The recipient's user id (their token's `sub`).
    pub user: OwnerId,
    /// `Some(level)` for a moderator's escalation email; `None` for an owner's outcome email.
    pub escalation_level: Option<u8>,
}

impl SentKey {
    /// The ledger key of the escalation email for `level` of `upload`'s review, to `moderator`.
    pub fn escalation(
        upload: UploadId,
        status: Status,
        level: u8,
        moderator: &ModeratorId,
    ) -> Self {
        // The ledger keys recipients by their `sub`, whatever their role.
        let user = OwnerId::from(moderator);
        Self {
            upload,
            status,
            user,
            escalation_level: Some(level),
        }
    }

    /// What the ledger stores beside the upload and the user: the status (`PUBLISHED`) of an
    /// outcome email, `ESCALATED_{level}` for an escalation email. Outcome emails' tags are
    /// the bare status, as they were before escalation emails existed.
    pub fn tag(&self) -> String {
        match self.escalation_level {
            None => self.status.as_str().to_owned(),
            Some(level) => format!("ESCALATED_{level}"),
        }
    }
}

/// A moderator who asked to be emailed when a review escalates, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationSubscriber {
    pub moderator: ModeratorId,
    /// From the moderator's verified token when they subscribed.
    pub address: EmailAddress,
    pub since: Timestamp,
}

/// What an email is about: the outcomes owners hear about, and escalations, which the
/// subscribed moderators hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Rejected,
    Published,
    Declined,
    Expired,
    Failed,
    /// A review still waiting reached escalation `level` (1 or 2): for moderators.
    Escalated(u8),
}

impl Notice {
    /// The events that send email; on AWS, the EventBridge rule that feeds the notify queue
    /// matches exactly these.
    pub const EVENT_TYPES: [EventType; 6] = [
        EventType::UploadRejected,
        EventType::UploadPublished,
        EventType::ReviewDeclined,
        EventType::UploadExpired,
        EventType::UploadFailed,
        EventType::ReviewEscalated,
    ];

    /// The notice an event calls for; `None` for every event that sends no email.
    pub fn for_event(event: &UploadEvent) -> Option<Self> {
        match event.event_type {
            EventType::UploadRejected => Some(Notice::Rejected),
            EventType::UploadPublished => Some(Notice::Published),
            EventType::ReviewDeclined => Some(Notice::Declined),
            EventType::UploadExpired => Some(Notice::Expired),
            EventType::UploadFailed => Some(Notice::Failed),
            // Older escalation events carried no level; the first is the one they meant.
            EventType::ReviewEscalated => {
                Some(Notice::Escalated(event.escalation_level.unwrap_or(1)))
            }
            _ => None,
        }
    }
}

/// Builds links to the owner page from the public base URL (`https://vetted.example`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageLinks {
    base: url::Url,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the public base URL {0:?} is not an absolute http(s) URL")]
pub struct InvalidBaseUrl(pub String);

impl PageLinks {
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

    /// The moderation console, on the queue a review in `status` waits in: first reviews, or
    /// (`AWAITING_SECOND`) second approvals.
    pub fn console(&self, status: Status) -> String {
        let mut url = self
            .base
            .join("moderate.html")
            .unwrap_or_else(|_| self.base.clone());
        if status == Status::AwaitingSecond {
            url.query_pairs_mut().append_pair("queue", "second");
        }
        url.to_string()
    }
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NotifyError {
    #[error("reading the restaurant's members")]
    Members(#[source] RestaurantsError),
    #[error("reading the escalation subscribers")]
    Subscribers(#[source] NotificationsError),
    #[error("the notifications store")]
    Store(#[source] NotificationsError),
    #[error("sending to {failed} recipient(s) failed; the first failure")]
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
            NotifyError::Store(e) | NotifyError::Subscribers(e) => e.is_retryable(),
            NotifyError::Send { first, .. } => first.is_retryable(),
        }
    }
}

/// What handling one event did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotifyOutcome {
    /// Emails the mailer accepted now.
    pub sent: usize,
    /// Recipients whose email for this (upload, status or level) was already claimed.
    pub already_sent: usize,
}

/// Turns events into emails: outcomes to owners, escalations to moderators. One per process;
/// cheap to share.
#[derive(Clone)]
pub struct EmailNotifier {
    pub restaurants: Arc<dyn Restaurants>,
    pub notifications: Arc<dyn Notifications>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Arc<dyn Clock>,
    pub links: PageLinks,
}

/// One email to send: to whom, under which ledger key.
struct Recipient {
    key: SentKey,
    address: EmailAddress,
}

impl EmailNotifier {
    /// Emails everyone the event concerns, unless the ledger says it was sent: every opted-in
    /// member of the restaurant for an outcome, every subscribed moderator for an
    /// escalation. Handling the same event again sends nothing new; after an error, handling
    /// it again sends only what failed.
    #[tracing::instrument(skip_all, fields(upload_id = %event.upload_id, event = event.event_type.as_str()))]
    pub async fn handle(&self, event: &UploadEvent) -> Result<NotifyOutcome, NotifyError> {
        let Some(notice) = Notice::for_event(event) else {
            return Ok(NotifyOutcome::default());
        };
        let (recipients, link) = match notice {
            Notice::Escalated(level) => (
                self.subscribed_moderators(event, level).await?,
                self.links.console(event.status),
            ),
            _ => match self.opted_in_members(event).await? {
                Some(recipients) => (recipients, self.links.owner_page(&event.restaurant)),
                // A restaurant deleted since has nobody to tell.
                None => return Ok(NotifyOutcome::default()),
            },
        };
        if recipients.is_empty() {
            return Ok(NotifyOutcome::default());
        }
        let name = match self.restaurants.get(&event.restaurant).await {
            Ok(restaurant) => restaurant.name,
            Err(_) => event.restaurant.to_string(),
        };
        let message = template::render(notice, event, &name, &link);
        self.send_once_each(recipients, &message).await
    }

    /// The members of the event's restaurant who want owner emails; `None` if the
    /// restaurant is gone.
    async fn opted_in_members(
        &self,
        event: &UploadEvent,
    ) -> Result<Option<Vec<Recipient>>, NotifyError> {
        let members = match self.restaurants.members(&event.restaurant).await {
            Ok(members) => members,
            Err(RestaurantsError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(NotifyError::Members(e)),
        };
        let mut recipients = Vec::new();
        for member in members {
            let preference = self
                .notifications
                .preference(&member.user)
                .await
                .map_err(NotifyError::Store)?;
            if let Some(address) = preference.as_ref().and_then(Preference::recipient) {
                recipients.push(Recipient {
                    address: address.clone(),
                    key: SentKey {
                        upload: event.upload_id,
                        status: event.status,
                        user: member.user,
                        escalation_level: None,
                    },
                });
            }
        }
        Ok(Some(recipients))
    }

    /// The moderators subscribed to escalations, each keyed for this `level`.
    async fn subscribed_moderators(
        &self,
        event: &UploadEvent,
        level: u8,
    ) -> Result<Vec<Recipient>, NotifyError> {
        let subscribers = self
            .notifications
            .escalation_subscribers()
            .await
            .map_err(NotifyError::Subscribers)?;
        Ok(subscribers
            .into_iter()
            .map(|s| Recipient {
                key: SentKey::escalation(event.upload_id, event.status, level, &s.moderator),
                address: s.address,
            })
            .collect())
    }

    /// Claims each recipient's ledger entry and sends to those whose claim stored it.
    async fn send_once_each(
        &self,
        recipients: Vec<Recipient>,
        message: &template::Message,
    ) -> Result<NotifyOutcome, NotifyError> {
        let mut outcome = NotifyOutcome::default();
        let (mut failed, mut first) = (0, None);
        for Recipient { key, address } in recipients {
            let claimed = self
                .notifications
                .claim(&key, self.clock.now())
                .await
                .map_err(NotifyError::Store)?;
            if !claimed {
                outcome.already_sent += 1;
                continue;
            }
            let email = Email {
                to: address,
                subject: message.subject.clone(),
                text: message.text.clone(),
                html: message.html.clone(),
            };
            match self.mailer.send(&email).await {
                Ok(()) => {
                    outcome.sent += 1;
                    tracing::info!(user = %key.user, tag = %key.tag(), "email sent");
                }
                Err(error) => {
                    tracing::warn!(user = %key.user, error = %error, "email failed");
                    // Let a redelivery try again; if this release fails too, the entry stays
                    // and this email is lost (at most once).
                    if let Err(e) = self.notifications.release(&key).await {
                        tracing::error!(user = %key.user, error = %e, "releasing a claim failed");
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
