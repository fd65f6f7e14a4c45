//! Where owner emails go on one machine: an SMTP server named in the settings
//! ([`SmtpMailer`]), or, without one, `.eml` files in a directory ([`FileMailer`]), so that
//! `vetted serve --demo` shows its mail without a mail server.
//!
//! Both build the same MIME message with `lettre`: `multipart/alternative` with the plain
//! text first and the HTML second, the sender from the settings, the recipient from the
//! member's stored preference.

mod file;
mod smtp;

pub use file::FileMailer;
pub use smtp::{SmtpMailer, SmtpSettings, TlsMode};

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use vetted_core::ports::{Email, MailError};

/// Parses a sender like `Vetted <vetted@example.com>` or `vetted@example.com`.
pub fn parse_sender(raw: &str) -> Result<Mailbox, String> {
    raw.parse::<Mailbox>()
        .map_err(|e| format!("{raw:?} is not a sender address ({e})"))
}

/// The MIME message for `email`, from `from`.
pub(crate) fn message(from: &Mailbox, email: &Email) -> Result<Message, MailError> {
    let to: Mailbox = email
        .to
        .as_str()
        .parse()
        .map_err(|e| MailError::Refused(format!("the recipient address is not usable: {e}")))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            email.html.clone(),
        ))
        .map_err(|e| MailError::Refused(format!("the message could not be built: {e}")))
}
