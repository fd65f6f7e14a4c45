//! `SesMailer`: the mailer port over Amazon SES (`SendEmail` of the v2 API, simple content:
//! a subject, a text and an HTML part, UTF-8).
//!
//! The sender is an SES identity configured once (the template's `MailSender`), never taken
//! from a message. SES answers a message it will never send (`MessageRejected`, an
//! unverified sender domain, a missing identity) with an error that is `Refused`, not retried;
//! a suspended account or paused sending, throttling and 5xx may pass, so they are retryable.
//!
//! On moto (5.2.5, measured): `SendEmail` from a sender with no identity is refused with
//! `MessageRejected` ("Email address not verified"), as AWS does; an identity made with
//! `CreateEmailIdentity` (an address, or its domain) is verified at once, and a display name
//! (`Vetted <vetted@example.com>`) is accepted. The sent messages can be read back from
//! `GET /moto-api/data.json`, under `ses` → `Message`, as `{source, destinations:
//! {ToAddresses}, subject, body, id}`, where `body` is the HTML part when there is one (the
//! text part is not kept). [`ensure_identity`] creates the identity on an emulator.

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use vetted_core::ports::{BackendError, Email, MailError, Mailer};

use crate::errors::backend_error;

/// Sends owner emails through SES from one identity.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl SesMailer {
    /// `from` is the sender: a verified SES identity's address, optionally with a display
    /// name (`Vetted <vetted@example.com>`).
    pub fn new(client: aws_sdk_sesv2::Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }
}

fn content(text: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError::Refused(format!("the message could not be built: {e}")))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(
                Body::builder()
                    .text(content(&email.text)?)
                    .html(content(&email.html)?)
                    .build(),
            )
            .build();
        let result = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(
                Destination::builder()
                    .to_addresses(email.to.as_str())
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let refused = e.as_service_error().is_some_and(|s| {
                    s.is_message_rejected()
                        || s.is_mail_from_domain_not_verified_exception()
                        || s.is_not_found_exception()
                });
                let error: BackendError = backend_error("sesv2:SendEmail", e);
                if refused {
                    Err(MailError::Refused(error.to_string()))
                } else {
                    Err(MailError::Backend(error))
                }
            }
        }
    }
}

/// Creates the SES identity `identity` (an address or a domain) unless it exists: for
/// emulators, where it is then usable at once. On AWS the identity is verified by its owner
/// (the SAM template's `MailSender` names it).
pub async fn ensure_identity(
    client: &aws_sdk_sesv2::Client,
    identity: &str,
) -> Result<(), BackendError> {
    match client
        .create_email_identity()
        .email_identity(identity)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_already_exists_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(backend_error("sesv2:CreateEmailIdentity", e)),
    }
}
