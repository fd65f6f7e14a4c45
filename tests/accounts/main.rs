//! The account flows over HTTP (`/auth/*`): one suite, run on both account backends.
//!
//! - `embedded`: the SQLite user store (argon2id, codes by email, RS256 tokens of its own).
//! - `moto`: Cognito on moto, through `CognitoAccounts`. moto accepts any confirmation code,
//!   so the wrong, expired and reused code cases run on the embedded store only, as
//!   AWS-LOCAL records; everything else runs on both.
//!
//! Each case builds its own backend (its own user pool on moto), so cases run in parallel.

#![allow(clippy::unwrap_used)]

mod backends;
mod suite;

/// Runs each named case of [`suite`] on both backends, as two tests.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    crate::suite::$case(crate::backends::embedded().await).await;
                }
            )*
        }
        mod moto {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(backend) = crate::backends::moto().await else { return };
                    crate::suite::$case(backend).await;
                }
            )*
        }
    };
}

on_both_backends!(
    sign_up_confirm_sign_in_and_call_the_api,
    known_and_unknown_addresses_get_the_same_answers,
    wrong_codes_expired_codes_and_used_codes_are_refused,
    a_new_sign_up_before_confirming_replaces_the_code,
    an_unconfirmed_account_cannot_sign_in,
    wrong_passwords_lock_the_address_for_a_while,
    refresh_gives_new_tokens_after_the_old_ones_expire,
    sign_out_ends_the_sessions,
    a_reset_code_sets_a_new_password_once,
    weak_passwords_and_bad_bodies_are_refused,
    one_client_address_is_rate_limited,
    codes_sent_to_one_address_are_limited,
    an_invitation_joins_the_account_when_it_confirms_or_signs_in,
);
