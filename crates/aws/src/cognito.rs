//! `CognitoAccounts`: the accounts port over a Cognito user pool whose sign-in name is the
//! email address (`UsernameAttributes: [email]`) and whose app client has no secret.
//!
//! | port | Cognito |
//! |---|---|
//! | register | `SignUp`; an address with an account: `ResendConfirmationCode` (nothing if confirmed) |
//! | confirm | `ConfirmSignUp`, then `AdminGetUser` (the `sub`) and `AdminAddUserToGroup` `owners` |
//! | sign_in | `InitiateAuth` `USER_PASSWORD_AUTH` |
//! | refresh | `InitiateAuth` `REFRESH_TOKEN_AUTH` |
//! | forgot_password | `ForgotPassword` |
//! | reset_password | `ConfirmForgotPassword`, then `AdminUserGlobalSignOut` |
//! | sign_out | `GlobalSignOut` with the access token |
//!
//! Cognito's errors become the port's by their code, so that no answer tells whether an
//! account exists: `UsernameExistsException` is a success, `UserNotFoundException` is a wrong
//! password or a wrong code, as the app client's `PreventUserExistenceErrors` would answer.
//!
//! Sign-in uses `InitiateAuth`, the app client's `USER_PASSWORD_AUTH`, which needs no IAM
//! permission; the password still travels only between this function and Cognito, over TLS.
//!
//! On moto (5.2.5, measured): `ConfirmSignUp` accepts any code, and `ConfirmForgotPassword`
//! checks a code only when it starts with `moto-confirmation-code:`; the wrong-code cases are
//! tested on the embedded store. `AdminInitiateAuth` signs in an unconfirmed user and answers
//! an unknown refresh token with a 500, where `InitiateAuth` refuses both as AWS does (one
//! more reason for `InitiateAuth`). `ResendConfirmationCode` is not implemented (a 500).
//! moto keeps users under the address they signed up with, so every call here names a user
//! by address, which AWS accepts as an alias of the username.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, AuthFlowType, AuthenticationResultType,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use base64::Engine;
use vetted_core::accounts::{
    AccountEmail, AccountError, ConfirmationCode, Password, SessionTokens, SignedInUser,
};
use vetted_core::ports::{Accounts, ConfirmedAccount};

use crate::errors::{SdkError, backend_error, unusable_answer};

/// The group every confirmed account joins.
const DEFAULT_GROUP: &str = "owners";

/// The accounts of one user pool, through one app client.
#[derive(Debug, Clone)]
pub struct CognitoAccounts {
    client: Client,
    user_pool_id: String,
    client_id: String,
}

/// What a Cognito error means to the port, by its code.
fn classify<E>(operation: &'static str, err: SdkError<E>) -> AccountError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err.code() {
        Some("NotAuthorizedException" | "UserNotFoundException") => match operation {
            "cognito.sign_in" => AccountError::InvalidCredentials,
            "cognito.refresh" | "cognito.sign_out" => AccountError::InvalidRefreshToken,
            _ => AccountError::InvalidCode,
        },
        Some("CodeMismatchException" | "ExpiredCodeException") => AccountError::InvalidCode,
        Some("UserNotConfirmedException") => AccountError::NotConfirmed,
        Some("InvalidPasswordException") => AccountError::WeakPassword(vec![
            err.message()
                .unwrap_or("a password the user pool accepts")
                .to_owned(),
        ]),
        Some(
            "TooManyRequestsException"
            | "LimitExceededException"
            | "TooManyFailedAttemptsException",
        ) => AccountError::Throttled,
        _ => AccountError::Backend(backend_error(operation, err)),
    }
}

/// The `cognito:groups` of an ID token Cognito has just handed us over TLS; read without
/// checking the signature, only to see whether the account is in a group yet.
fn groups_of(id_token: &str) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Groups {
        #[serde(rename = "cognito:groups", default)]
        groups: Vec<String>,
    }
    id_token
        .split('.')
        .nth(1)
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload.trim_end_matches('='))
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<Groups>(&bytes).ok())
        .map(|g| g.groups)
        .unwrap_or_default()
}

impl CognitoAccounts {
    pub fn new(
        client: Client,
        user_pool_id: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Self {
        Self {
            client,
            user_pool_id: user_pool_id.into(),
            client_id: client_id.into(),
        }
    }

    async fn join_default_group(&self, email: &AccountEmail) -> Result<(), AccountError> {
        self.client
            .admin_add_user_to_group()
            .user_pool_id(&self.user_pool_id)
            .username(email.as_str())
            .group_name(DEFAULT_GROUP)
            .send()
            .await
            .map_err(|e| AccountError::Backend(backend_error("cognito.add_to_group", e)))?;
        Ok(())
    }

    async fn password_auth(
        &self,
        email: &AccountEmail,
        password: &Password,
    ) -> Result<AuthenticationResultType, AccountError> {
        let answer = self
            .client
            .initiate_auth()
            .client_id(&self.client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .set_auth_parameters(Some(HashMap::from([
                ("USERNAME".to_owned(), email.as_str().to_owned()),
                ("PASSWORD".to_owned(), password.expose().to_owned()),
            ])))
            .send()
            .await
            .map_err(|e| classify("cognito.sign_in", e))?;
        authentication(answer.authentication_result, answer.challenge_name.as_ref())
    }
}

/// The tokens of an answer, or why there are none: a challenge (MFA, a new password for an
/// account an administrator made) is something `/auth/login` does not answer.
fn authentication(
    result: Option<AuthenticationResultType>,
    challenge: Option<&aws_sdk_cognitoidentityprovider::types::ChallengeNameType>,
) -> Result<AuthenticationResultType, AccountError> {
    match (result, challenge) {
        (Some(result), _) => Ok(result),
        (None, Some(challenge)) => Err(AccountError::Backend(unusable_answer(
            "cognito.sign_in",
            format!(
                "sign-in asks for the challenge {challenge}, which /auth/login does not answer"
            ),
        ))),
        (None, None) => Err(AccountError::Backend(unusable_answer(
            "cognito.sign_in",
            "neither tokens nor a challenge",
        ))),
    }
}

fn session(
    result: AuthenticationResultType,
    keep_refresh: bool,
) -> Result<SessionTokens, AccountError> {
    let missing = |what: &str| {
        AccountError::Backend(unusable_answer(
            "cognito.tokens",
            format!("no {what} in the answer"),
        ))
    };
    Ok(SessionTokens {
        id_token: result.id_token.ok_or_else(|| missing("ID token"))?,
        access_token: result.access_token.ok_or_else(|| missing("access token"))?,
        refresh_token: if keep_refresh {
            result.refresh_token
        } else {
            None
        },
        expires_in: u64::try_from(result.expires_in).unwrap_or(0),
    })
}

#[async_trait]
impl Accounts for CognitoAccounts {
    async fn register(
        &self,
        email: &AccountEmail,
        password: &Password,
    ) -> Result<(), AccountError> {
        let signed_up = self
            .client
            .sign_up()
            .client_id(&self.client_id)
            .username(email.as_str())
            .password(password.expose())
            .user_attributes(
                AttributeType::builder()
                    .name("email")
                    .value(email.as_str())
                    .build()
                    .map_err(|e| {
                        AccountError::Backend(unusable_answer("cognito.register", e.to_string()))
                    })?,
            )
            .send()
            .await;
        match signed_up {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("UsernameExistsException") => {
                // Unconfirmed: a new code. Confirmed: Cognito refuses. Either way the caller
                // is told what a new address is told; an error here, even a passing one,
                // would be an answer only existing accounts can get, so it is logged instead.
                if let Err(e) = self
                    .client
                    .resend_confirmation_code()
                    .client_id(&self.client_id)
                    .username(email.as_str())
                    .send()
                    .await
                {
                    let e = backend_error("cognito.resend_code", e);
                    tracing::warn!(
                        error = %vetted_core::error_chain::DisplayChain(&e),
                        "a sign-up for an existing account sent no new code"
                    );
                }
                Ok(())
            }
            Err(e) => Err(classify("cognito.register", e)),
        }
    }

    async fn confirm(
        &self,
        email: &AccountEmail,
        code: &ConfirmationCode,
    ) -> Result<ConfirmedAccount, AccountError> {
        self.client
            .confirm_sign_up()
            .client_id(&self.client_id)
            .username(email.as_str())
            .confirmation_code(code.expose())
            .send()
            .await
            .map_err(|e| classify("cognito.confirm", e))?;
        let user = self
            .client
            .admin_get_user()
            .user_pool_id(&self.user_pool_id)
            .username(email.as_str())
            .send()
            .await
            .map_err(|e| AccountError::Backend(backend_error("cognito.get_user", e)))?;
        let subject = user
            .user_attributes()
            .iter()
            .find(|a| a.name() == "sub")
            .and_then(|a| a.value())
            .map(str::to_owned)
            .ok_or_else(|| AccountError::Backend(unusable_answer("cognito.get_user", "no sub")))?;
        self.join_default_group(email).await?;
        Ok(ConfirmedAccount { subject })
    }

    async fn sign_in(
        &self,
        email: &AccountEmail,
        password: &Password,
    ) -> Result<SessionTokens, AccountError> {
        let mut result = self.password_auth(email, password).await?;
        // A confirmation whose group step failed leaves an account in no group: join it now,
        // and sign in again so that the tokens say so.
        if result
            .id_token
            .as_deref()
            .is_some_and(|token| groups_of(token).is_empty())
        {
            self.join_default_group(email).await?;
            result = self.password_auth(email, password).await?;
        }
        session(result, true)
    }

    async fn refresh(&self, refresh_token: &str) -> Result<SessionTokens, AccountError> {
        if refresh_token.is_empty() || refresh_token.len() > 8 * 1024 {
            return Err(AccountError::InvalidRefreshToken);
        }
        let answer = self
            .client
            .initiate_auth()
            .client_id(&self.client_id)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .set_auth_parameters(Some(HashMap::from([(
                "REFRESH_TOKEN".to_owned(),
                refresh_token.to_owned(),
            )])))
            .send()
            .await
            .map_err(|e| classify("cognito.refresh", e))?;
        session(
            authentication(answer.authentication_result, answer.challenge_name.as_ref())?,
            false,
        )
    }

    async fn forgot_password(&self, email: &AccountEmail) -> Result<(), AccountError> {
        match self
            .client
            .forgot_password()
            .client_id(&self.client_id)
            .username(email.as_str())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match classify("cognito.forgot_password", e) {
                // No account, or none with a verified address: the same answer.
                AccountError::InvalidCode => Ok(()),
                AccountError::Backend(e) if e.retryable => Err(AccountError::Backend(e)),
                AccountError::Backend(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn reset_password(
        &self,
        email: &AccountEmail,
        code: &ConfirmationCode,
        new_password: &Password,
    ) -> Result<(), AccountError> {
        self.client
            .confirm_forgot_password()
            .client_id(&self.client_id)
            .username(email.as_str())
            .confirmation_code(code.expose())
            .password(new_password.expose())
            .send()
            .await
            .map_err(|e| classify("cognito.reset_password", e))?;
        // A new password ends the account's sessions, as on the embedded store.
        self.client
            .admin_user_global_sign_out()
            .user_pool_id(&self.user_pool_id)
            .username(email.as_str())
            .send()
            .await
            .map_err(|e| AccountError::Backend(backend_error("cognito.sign_out_all", e)))?;
        Ok(())
    }

    async fn sign_out(&self, user: &SignedInUser) -> Result<(), AccountError> {
        self.client
            .global_sign_out()
            .access_token(&user.access_token)
            .send()
            .await
            .map_err(|e| classify("cognito.sign_out", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_read_from_the_payload() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"x","cognito:groups":["owners"]}"#);
        assert_eq!(groups_of(&format!("h.{payload}.s")), ["owners"]);
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#);
        assert!(groups_of(&format!("h.{payload}.s")).is_empty());
        assert!(groups_of("garbage").is_empty());
    }
}
