//! The emails the embedded account store sends: a sign-up code, a reset code, and the note
//! to an address that already has an account. (Cognito sends its own on AWS.)
//!
//! A code stands alone on its line of the text part, so that a person can copy it and a test
//! can find it.

use std::time::Duration;

use crate::notify::template::escape;
use crate::ports::Email;

use super::AccountEmail;

fn hours(ttl: Duration) -> String {
    match ttl.as_secs() / 3600 {
        0 => format!("{} minutes", ttl.as_secs() / 60),
        1 => "1 hour".to_owned(),
        n => format!("{n} hours"),
    }
}

fn message(to: &AccountEmail, subject: &str, lines: &[String]) -> Email {
    let html = lines
        .iter()
        .map(|line| format!("<p>{}</p>", escape(line)))
        .collect::<String>();
    Email {
        to: to.address().clone(),
        subject: subject.to_owned(),
        text: lines.join("\n\n") + "\n",
        html: format!("<!doctype html><html><body>{html}</body></html>"),
    }
}

/// The code that confirms a new account.
pub fn confirmation_code(to: &AccountEmail, code: &str, ttl: Duration) -> Email {
    message(
        to,
        "Your Vetted confirmation code",
        &[
            "Enter this code to confirm your Vetted account:".to_owned(),
            code.to_owned(),
            format!("It works once, for {}.", hours(ttl)),
            "If you did not sign up, ignore this email: nothing happens without the code."
                .to_owned(),
        ],
    )
}

/// The code that sets a new password.
pub fn reset_code(to: &AccountEmail, code: &str, ttl: Duration) -> Email {
    message(
        to,
        "Your Vetted password reset code",
        &[
            "Enter this code to choose a new password for your Vetted account:".to_owned(),
            code.to_owned(),
            format!("It works once, for {}.", hours(ttl)),
            "If you did not ask for it, ignore this email: your password stays as it is."
                .to_owned(),
        ],
    )
}

/// Sent instead of a code when someone signs up with an address that has an account, so
/// that the sign-up page cannot tell who has one.
pub fn already_registered(to: &AccountEmail) -> Email {
    message(
        to,
        "Someone tried to sign up to Vetted with your address",
        &[
            "Someone, perhaps you, tried to create a Vetted account with this address. You have one already.".to_owned(),
            "Sign in with it, or reset your password if you have forgotten it. If it was not you, you need do nothing.".to_owned(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_stands_on_its_own_line() {
        let to = AccountEmail::parse("ana@example.com").unwrap();
        let mail = confirmation_code(&to, "042917", Duration::from_secs(24 * 3600));
        assert!(
            mail.text.lines().any(|line| line == "042917"),
            "{}",
            mail.text
        );
        assert!(mail.text.contains("24 hours"));
        let mail = reset_code(&to, "111111", Duration::from_secs(3600));
        assert!(mail.text.contains("for 1 hour."));
        assert!(!mail.subject.contains('\n'));
    }
}
