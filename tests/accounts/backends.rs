//! The two account backends the suite runs on, each behind the same `/auth/*` router, with
//! a way to read the codes it sends and a verifier for the tokens it issues.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use vetted_api::Authenticator;
use vetted_api::accounts::{AcceptInvitations, AccountsApi, AuthGuard, AuthLimits};
use vetted_api::auth::{JwksVerifier, LocalIssuer, OidcConfig};
use vetted_api::restaurants::invitations::InvitationAcceptor;
use vetted_aws::cognito::CognitoAccounts;
use vetted_aws::config::AwsContext;
use vetted_core::Timestamp;
use vetted_core::accounts::AccountEmail;
use vetted_core::ports::{Email, MailError, Mailer};
use vetted_core::time::ManualClock;
use vetted_embedded::db::Db;
use vetted_embedded::sqlite_accounts::{AccountLimits, SqliteAccounts};
use vetted_embedded::sqlite_invitations::SqliteInvitations;
use vetted_embedded::sqlite_restaurants::SqliteRestaurants;

/// One backend under test.
pub struct Backend {
    pub name: &'static str,
    /// `/auth/*` over this backend.
    pub router: Router,
    /// The guard's clock (and, on the embedded store, the store's and the token issuer's).
    pub clock: Arc<ManualClock>,
    /// Verifies the tokens this backend issues, as the API does.
    pub auth: Arc<Authenticator>,
    pub mail: Mail,
    /// Whether codes are checked: moto accepts any code.
    pub checks_codes: bool,
    /// Whether the tokens' expiry follows [`Backend::clock`] (the embedded store's issuer).
    pub tokens_follow_the_clock: bool,
    /// Where the router's invitations become memberships: SQLite on both backends, since
    /// accepting an invitation is the API's, whatever the account backend.
    pub restaurants: Arc<SqliteRestaurants>,
    pub invitations: Arc<SqliteInvitations>,
    /// Builds the router again with other limits, on the same backend.
    rebuild: Box<dyn Fn(AuthLimits) -> Router + Send + Sync>,
    _keep: tempfile::TempDir,
}

impl Backend {
    pub fn with_limits(&self, limits: AuthLimits) -> Router {
        (self.rebuild)(limits)
    }
}

/// Where a test reads the code a backend sent.
pub enum Mail {
    /// What the embedded store's mailer was given, in order.
    Captured(Arc<CapturingMailer>),
    /// moto sends nothing and accepts any code.
    AnyCodeWorks,
}

impl Mail {
    /// The code in the last email to `email`; on moto, any code.
    pub fn last_code(&self, email: &str) -> String {
        match self {
            Mail::Captured(mailer) => mailer
                .sent_to(email)
                .last()
                .and_then(|mail| code_in(&mail.text))
                .unwrap_or_else(|| panic!("no code was emailed to {email}")),
            Mail::AnyCodeWorks => "123456".to_owned(),
        }
    }

    /// How many emails went to `email`; `None` where the backend's mail cannot be read.
    pub fn count_to(&self, email: &str) -> Option<usize> {
        match self {
            Mail::Captured(mailer) => Some(mailer.sent_to(email).len()),
            Mail::AnyCodeWorks => None,
        }
    }
}

/// The six-digit line of a message.
pub fn code_in(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|line| line.len() == 6 && line.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
}

/// A mailer that keeps what it is given: the embedded store's codes, read by the tests. (The
/// browser test reads them from a real SMTP server instead.)
#[derive(Default)]
pub struct CapturingMailer {
    sent: Mutex<Vec<Email>>,
}

impl CapturingMailer {
    pub fn sent_to(&self, email: &str) -> Vec<Email> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|mail| mail.to.as_str() == email)
            .cloned()
            .collect()
    }
}

#[async_trait]
impl Mailer for CapturingMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        self.sent.lock().unwrap().push(email.clone());
        Ok(())
    }
}

/// Generous per-address limits, so that a case's own requests never trip them (the rate
/// case builds its router with the defaults).
pub fn roomy_limits() -> AuthLimits {
    AuthLimits {
        per_ip_per_minute: 10_000,
        per_ip_burst: 10_000,
        ..AuthLimits::default()
    }
}

pub fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    Timestamp::from_unix_millis(i64::try_from(millis).unwrap())
}

/// A fresh address, so that cases never share an account.
pub fn new_address(label: &str) -> String {
    format!("{label}-{}@example.com", vetted_core::UploadId::generate())
}

pub async fn embedded() -> Backend {
    embedded_at(now()).await
}

/// The embedded store with its clock (and so its tokens' times) starting at `start`.
/// The stores that accept invitations, in `dir`.
async fn membership_stores(
    dir: &std::path::Path,
) -> (Db, Arc<SqliteRestaurants>, Arc<SqliteInvitations>) {
    let db = Db::open(dir.join("vetted.db")).await.unwrap();
    let restaurants = Arc::new(SqliteRestaurants::new(db.clone()));
    let invitations = Arc::new(SqliteInvitations::new(db.clone()));
    (db, restaurants, invitations)
}

fn acceptor(
    restaurants: &Arc<SqliteRestaurants>,
    invitations: &Arc<SqliteInvitations>,
    clock: &Arc<ManualClock>,
) -> Arc<dyn AcceptInvitations> {
    Arc::new(InvitationAcceptor {
        invitations: invitations.clone(),
        restaurants: restaurants.clone(),
        clock: clock.clone(),
    })
}

pub async fn embedded_at(start: Timestamp) -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let (db, restaurants, invitations) = membership_stores(dir.path()).await;
    let issuer = Arc::new(LocalIssuer::load_or_create(dir.path()).unwrap());
    let mailer = Arc::new(CapturingMailer::default());
    let clock = Arc::new(ManualClock::new(start));
    let store = Arc::new(SqliteAccounts::new(
        db,
        mailer.clone(),
        issuer.clone(),
        clock.clone(),
        AccountLimits::default(),
    ));
    let verifier = JwksVerifier::with_keys(LocalIssuer::oidc_config(), issuer.jwks()).unwrap();
    let auth = Arc::new(Authenticator::new(None, Some(verifier)).unwrap());
    let jwks = Arc::new(issuer.jwks().clone());
    let (rebuild_clock, rebuild_auth) = (clock.clone(), auth.clone());
    let accept = acceptor(&restaurants, &invitations, &clock);
    let rebuild = move |limits: AuthLimits| {
        vetted_api::accounts::router(
            AccountsApi {
                accounts: store.clone(),
                guard: Arc::new(AuthGuard::new(limits, rebuild_clock.clone())),
                jwks: Some(jwks.clone()),
                invitations: Some(accept.clone()),
            },
            rebuild_auth.clone(),
        )
    };
    Backend {
        name: "embedded",
        router: rebuild(roomy_limits()),
        clock,
        auth,
        mail: Mail::Captured(mailer),
        checks_codes: true,
        tokens_follow_the_clock: true,
        rebuild: Box::new(rebuild),
        restaurants,
        invitations,
        _keep: dir,
    }
}

/// Cognito on moto: a user pool of its own, signing in by email, with the groups and an app
/// client as the template makes them.
pub async fn moto() -> Option<Backend> {
    let endpoint = vetted_contract::emulator::aws_endpoint()?;
    let ctx = AwsContext::builder()
        .endpoint_url(&endpoint)
        .region("us-east-1")
        .static_credentials("test", "test")
        .load()
        .await;
    let cognito = ctx.cognito();
    use aws_sdk_cognitoidentityprovider::types::{ExplicitAuthFlowsType, UsernameAttributeType};
    let pool = cognito
        .create_user_pool()
        .pool_name(format!("accounts-{}", vetted_core::UploadId::generate()))
        .username_attributes(UsernameAttributeType::Email)
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    for group in ["owners", "moderators", "admins"] {
        cognito
            .create_group()
            .user_pool_id(&pool)
            .group_name(group)
            .send()
            .await
            .unwrap();
    }
    let verifier = JwksVerifier::new(OidcConfig {
        jwks_url: format!("{endpoint}/{pool}/.well-known/jwks.json"),
        // moto's issuer names AWS, not the emulator (AWS-LOCAL).
        issuer: format!("https://cognito-idp.us-east-1.amazonaws.com/{pool}"),
        audience: Some(client.clone()),
    })
    .unwrap();
    let auth = Arc::new(Authenticator::new(None, Some(verifier)).unwrap());
    let accounts = Arc::new(CognitoAccounts::new(cognito, pool, client));
    let clock = Arc::new(ManualClock::new(now()));
    let dir = tempfile::tempdir().unwrap();
    let (_, restaurants, invitations) = membership_stores(dir.path()).await;
    let (rebuild_clock, rebuild_auth) = (clock.clone(), auth.clone());
    let accept = acceptor(&restaurants, &invitations, &clock);
    let rebuild = move |limits: AuthLimits| {
        vetted_api::accounts::router(
            AccountsApi {
                accounts: accounts.clone(),
                guard: Arc::new(AuthGuard::new(limits, rebuild_clock.clone())),
                jwks: None,
                invitations: Some(accept.clone()),
            },
            rebuild_auth.clone(),
        )
    };
    Some(Backend {
        name: "moto",
        router: rebuild(roomy_limits()),
        clock,
        auth,
        mail: Mail::AnyCodeWorks,
        checks_codes: false,
        tokens_follow_the_clock: false,
        rebuild: Box::new(rebuild),
        restaurants,
        invitations,
        _keep: dir,
    })
}

/// An address in its normal form, as both backends key accounts.
pub fn normal(email: &str) -> String {
    AccountEmail::parse(email).unwrap().as_str().to_owned()
}

pub const HOUR: Duration = Duration::from_secs(3600);
