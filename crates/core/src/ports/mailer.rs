//! The mailer port: send one email, plain text and HTML, to one address.
//!
//! The sender identity is the adapter's (an SMTP `From`, an SES identity), not the message's:
//! nothing a user sends ever becomes a sender.

use async_trait::async_trait;
use thiserror::Error;

use super::{BackendError, Retryable};
use crate::notify::EmailAddress;

/// One message to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: EmailAddress,
    /// One line; templates never put a line break in it.
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MailError {
    /// The service refused this message for good (a rejected recipient, an unverified
    /// sender): sending it again will not help.
    #[error("the mail service refused the message: {0}")]
    Refused(String),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Retryable for MailError {
    fn is_retryable(&self) -> bool {
        match self {
            MailError::Backend(e) => e.retryable,
            MailError::Refused(_) => false,
        }
    }
}

/// Sends email.
///
/// Contract: `send` returns `Ok` once the service has accepted the message for delivery
/// (SMTP: the server's 250 after the data; SES: a message id). An `Err` means it may not have
/// been accepted; the caller decides whether to try again.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &Email) -> Result<(), MailError>;
}
