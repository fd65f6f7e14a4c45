//! The emails: a subject, a plain-text body and an HTML body, in words. Owners hear of
//! outcomes; subscribed moderators of escalations.
//!
//! Everything that comes from data (the restaurant's name, the URLs) is escaped in the HTML
//! body; the subject is one line because none of its parts can hold a line break (names
//! refuse control characters, slots and reasons are fixed words).

use super::Notice;
use crate::events::UploadEvent;
use crate::reason::ReasonCode;
use crate::restaurant::Slot;
use crate::status::Status;

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
/// `link` is the owner page, or for an escalation the moderation console.
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
        Notice::Escalated(level) => (
            format!("Review waiting: the new {slot} of {restaurant} (level {level})"),
            format!(
                "The new {slot} of {restaurant} is still waiting for a moderator, and its \
                 review has passed escalation point {level} of its deadline."
            ),
            Some(if event.status == Status::AwaitingSecond {
                "It has one of its two approvals and needs a second moderator."
            } else {
                "Nobody has decided on it yet. If nobody does before the deadline, it expires."
            }),
        ),
    };
    let image = event.url.as_deref().filter(|_| notice == Notice::Published);
    let (footer, page_words) = match notice {
        Notice::Escalated(_) => (
            "You get this email because you subscribed to escalations in the Vetted \
             moderation console. Unsubscribe there.",
            (
                "Open the moderation console",
                "Review it in the moderation console:",
            ),
        ),
        _ => (
            "You get this email because you turned on email notifications in Vetted. \
             Turn them off on the owner page.",
            (
                "Open the owner page",
                "See your restaurant's images and requests on the owner page:",
            ),
        ),
    };

    let mut text = format!("Hello,\n\n{headline}\n");
    if let Some(why) = why {
        text.push_str(&format!("\nWhy: {why}\n"));
    }
    if let Some(url) = image {
        text.push_str(&format!("\nThe image: {url}\n"));
    }
    text.push_str(&format!(
        "\n{intro}\n{link}\n\nRequest {upload}.\n\n-- \n{footer}\n",
        intro = page_words.1,
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
    let after_link = match notice {
        Notice::Escalated(_) => ".",
        _ => " to see your restaurant's images and requests.",
    };
    html.push_str(&format!(
        "<p><a href=\"{}\">{}</a>{}</p>\n<p>Request {}.</p>\n<hr>\n\
         <p><small>{}</small></p>\n</body></html>\n",
        escape(link),
        page_words.0,
        after_link,
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
