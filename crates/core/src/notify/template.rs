//! The owner emails: a subject, a plain-text body and an HTML body, in words.
//!
//! Everything that comes from data (the restaurant's name, the URLs) is escaped in the HTML
//! body; the subject is one line because none of its parts can hold a line break (names
//! refuse control characters, slots and reasons are fixed words).

use super::Notice;
use crate::events::UploadEvent;
use crate::reason::ReasonCode;
use crate::restaurant::Slot;

/// A rendered email, without its recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn slot_words(slot: Slot) -> String {
    match slot {
        Slot::Logo => "logo".to_owned(),
        Slot::Cover => "cover image".to_owned(),
        Slot::Gallery(n) => format!("gallery image {n}"),
    }
}

/// Renders the email for `notice` about `event`, for the restaurant called `restaurant`;
/// `link` is the owner page.
pub fn render(notice: Notice, event: &UploadEvent, restaurant: &str, link: &str) -> Message {
    let slot = slot_words(event.slot);
    let (subject, headline, why) = match notice {
        Notice::Rejected => (
            format!("{restaurant}: your new {slot} was not accepted"),
            format!("The image you sent as the {slot} of {restaurant} was not accepted."),
            Some(
                event
                    .reason
                    .map_or("The file did not pass the checks.", ReasonCode::describe),
            ),
        ),
        Notice::Published => (
            format!("{restaurant}: your new {slot} is live"),
            format!("Your new {slot} of {restaurant} was approved and is now published."),
            None,
        ),
        Notice::Declined => (
            format!("{restaurant}: your new {slot} was declined"),
            format!("A moderator declined the image you sent as the {slot} of {restaurant}."),
            Some(event.decline_reason.map_or(
                "The moderator gave no reason.",
                crate::record::DeclineReason::describe,
            )),
        ),
        Notice::Expired => (
            format!("{restaurant}: your new {slot} expired"),
            format!("Your request to change the {slot} of {restaurant} expired."),
            Some(
                event
                    .reason
                    .map_or("It was not finished in time.", ReasonCode::describe),
            ),
        ),
        Notice::Failed => (
            format!("{restaurant}: your new {slot} could not be processed"),
            format!("Vetted could not process the image you sent as the {slot} of {restaurant}."),
            Some(event.reason.map_or(
                ReasonCode::ProcessingFailed.describe(),
                ReasonCode::describe,
            )),
        ),
    };
    let image = event.url.as_deref().filter(|_| notice == Notice::Published);
    let footer = "You get this email because you turned on email notifications in Vetted. \
                  Turn them off on the owner page.";

    let mut text = format!("Hello,\n\n{headline}\n");
    if let Some(why) = why {
        text.push_str(&format!("\nWhy: {why}\n"));
    }
    if let Some(url) = image {
        text.push_str(&format!("\nThe image: {url}\n"));
    }
    text.push_str(&format!(
        "\nSee your restaurant's images and requests on the owner page:\n{link}\n\n\
         Request {upload}.\n\n-- \n{footer}\n",
        upload = event.upload_id
    ));

    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body>\n<p>Hello,</p>\n<p>{}</p>\n",
        escape(&subject),
        escape(&headline)
    );
    if let Some(why) = why {
        html.push_str(&format!("<p><strong>Why:</strong> {}</p>\n", escape(why)));
    }
    if let Some(url) = image {
        html.push_str(&format!(
            "<p><a href=\"{0}\">See the published image</a></p>\n",
            escape(url)
        ));
    }
    html.push_str(&format!(
        "<p><a href=\"{}\">Open the owner page</a> to see your restaurant's images and \
         requests.</p>\n<p>Request {}.</p>\n<hr>\n<p><small>{}</small></p>\n</body></html>\n",
        escape(link),
        escape(&event.upload_id.to_string()),
        escape(footer)
    ));
    Message {
        subject,
        text,
        html,
    }
}

/// Escapes text for an HTML element or a double-quoted attribute.
pub fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
