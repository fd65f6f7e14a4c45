//! The cases, each a function of a [`Backend`]: what `/auth/*` must do on both.

use std::net::IpAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;
use vetted_api::accounts::{AuthLimits, ClientIp};
use vetted_api::auth::{AuthError, Role};

use crate::backends::{Backend, HOUR, new_address, normal, now};

const PASSWORD: &str = "Correct horse 42";
const OTHER_PASSWORD: &str = "Battery staple 77";

/// One answer: status, `Retry-After` and `Cache-Control`, and the JSON body (or null).
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    cache_control: Option<String>,
    body: Value,
}

impl Answer {
    fn reason(&self) -> &str {
        self.body["reason"].as_str().unwrap_or_default()
    }
}

/// Panics unless `value` matches `schemas/api/{file}` (a file that refers to no other).
fn assert_matches(file: &str, value: &Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../schemas/api")
        .join(file);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{file}: {errors:?}\n{value:#}");
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (retry_after, cache_control) = (
        header("retry-after").map(|v| v.parse().unwrap()),
        header("cache-control"),
    );
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    Answer {
        status,
        retry_after,
        cache_control,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn post(path: &str, body: impl Into<Body>, client: Option<IpAddr>) -> Request<Body> {
    let mut request = Request::post(path)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap();
    if let Some(ip) = client {
        request.extensions_mut().insert(ClientIp(ip));
    }
    request
}

async fn call(router: &Router, path: &str, body: Value) -> Answer {
    send(router, post(path, body.to_string(), None)).await
}

async fn register(b: &Backend, email: &str, password: &str) -> Answer {
    call(
        &b.router,
        "/auth/register",
        json!({"email": email, "password": password}),
    )
    .await
}

async fn confirm(b: &Backend, email: &str, code: &str) -> Answer {
    call(
        &b.router,
        "/auth/confirm",
        json!({"email": email, "code": code}),
    )
    .await
}

async fn login(b: &Backend, email: &str, password: &str) -> Answer {
    call(
        &b.router,
        "/auth/login",
        json!({"email": email, "password": password}),
    )
    .await
}

async fn refresh(b: &Backend, token: &str) -> Answer {
    call(&b.router, "/auth/refresh", json!({"refresh_token": token})).await
}

/// A confirmed account, signed in: its tokens.
async fn signed_up(b: &Backend, email: &str) -> Value {
    assert_eq!(
        register(b, email, PASSWORD).await.status,
        StatusCode::ACCEPTED
    );
    let code = b.mail.last_code(&normal(email));
    let confirmed = confirm(b, email, &code).await;
    assert_eq!(
        confirmed.status,
        StatusCode::OK,
        "{}: {confirmed:?}",
        b.name
    );
    let tokens = login(b, email, PASSWORD).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}: {tokens:?}", b.name);
    tokens.body
}

fn token<'a>(tokens: &'a Value, name: &str) -> &'a str {
    tokens[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {tokens}"))
}

pub async fn sign_up_confirm_sign_in_and_call_the_api(b: Backend) {
    let email = new_address("Ana");
    let tokens = signed_up(&b, &email).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["expires_in"].as_u64().unwrap() > 0);
    assert!(!token(&tokens, "refresh_token").is_empty());
    let principal = b
        .auth
        .authenticate(token(&tokens, "id_token"))
        .await
        .unwrap_or_else(|e| panic!("{}: the ID token does not verify: {e}", b.name));
    assert!(principal.has(Role::Owner), "a new account is an owner");
    assert!(!principal.has(Role::Moderator) && !principal.has(Role::Admin));
    assert_eq!(
        principal.email.as_ref().map(|e| e.as_str().to_owned()),
        Some(normal(&email)),
        "the ID token carries the verified address"
    );
    principal.owner_id().expect("its sub is a user id");
    // The address is one account whatever its case.
    let again = login(&b, &email.to_uppercase(), PASSWORD).await;
    assert_eq!(again.status, StatusCode::OK, "{again:?}");
    assert_eq!(again.cache_control.as_deref(), Some("no-store"));
    if b.tokens_follow_the_clock {
        // The embedded store publishes its key, and the published key verifies its tokens.
        let jwks = send(
            &b.router,
            Request::get("/.well-known/jwks.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(jwks.status, StatusCode::OK);
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.body).unwrap();
        let verifier = vetted_api::auth::JwksVerifier::with_keys(
            vetted_api::auth::LocalIssuer::oidc_config(),
            &set,
        )
        .unwrap();
        let published = vetted_api::Authenticator::new(None, Some(verifier)).unwrap();
        published
            .authenticate(token(&tokens, "id_token"))
            .await
            .unwrap();
    }
}

pub async fn known_and_unknown_addresses_get_the_same_answers(b: Backend) {
    let known = new_address("known");
    signed_up(&b, &known).await;
    let unknown = new_address("unknown");
    let same = |a: &Answer, c: &Answer, what: &str| {
        assert_eq!(
            (a.status, &a.body),
            (c.status, &c.body),
            "{}: {what} tells the two addresses apart",
            b.name
        );
    };
    same(
        &register(&b, &known, OTHER_PASSWORD).await,
        &register(&b, &unknown, OTHER_PASSWORD).await,
        "register",
    );
    same(
        &login(&b, &known, "Wrong password 1").await,
        &login(&b, &new_address("nobody"), "Wrong password 1").await,
        "login",
    );
    let forgot = |email: String| {
        let router = b.router.clone();
        async move { call(&router, "/auth/forgot", json!({"email": email})).await }
    };
    same(
        &forgot(known.clone()).await,
        &forgot(new_address("nobody")).await,
        "forgot",
    );
    // A confirmed account and a stranger get the same refusal of a code. (moto confirms any
    // account with any code, even one confirmed already.)
    if b.checks_codes {
        same(
            &confirm(&b, &known, "000000").await,
            &confirm(&b, &new_address("nobody"), "000000").await,
            "confirm",
        );
    }
    // Signing up again did not change the known account's password.
    assert_eq!(login(&b, &known, PASSWORD).await.status, StatusCode::OK);
    if let Some(count) = b.mail.count_to(&normal(&known)) {
        // The code, then the note that someone tried to sign up, then the reset code.
        assert_eq!(count, 3, "{}", b.name);
    }
}

pub async fn wrong_codes_expired_codes_and_used_codes_are_refused(b: Backend) {
    if !b.checks_codes {
        eprintln!(
            "{}: accepts any code (AWS-LOCAL); checked on the embedded store",
            b.name
        );
        return;
    }
    let email = new_address("codes");
    register(&b, &email, PASSWORD).await;
    let code = b.mail.last_code(&email);
    let wrong = if code == "111111" { "222222" } else { "111111" };
    let refused = confirm(&b, &email, wrong).await;
    assert_eq!(
        (refused.status, refused.reason()),
        (StatusCode::BAD_REQUEST, "invalid_code")
    );
    assert_eq!(confirm(&b, &email, &code).await.status, StatusCode::OK);
    let reused = confirm(&b, &email, &code).await;
    assert_eq!(reused.reason(), "invalid_code", "a code works once");

    // An expired code: a day to confirm.
    let late = new_address("late");
    register(&b, &late, PASSWORD).await;
    let code = b.mail.last_code(&late);
    b.clock.advance(24 * HOUR + Duration::from_secs(1));
    assert_eq!(confirm(&b, &late, &code).await.reason(), "invalid_code");

    // Five wrong tries burn the code, even if the sixth is right.
    let guessed = new_address("guessed");
    register(&b, &guessed, PASSWORD).await;
    let code = b.mail.last_code(&guessed);
    let router = b.with_limits(AuthLimits {
        max_failures: 100,
        ..crate::backends::roomy_limits()
    });
    for _ in 0..5 {
        let wrong = if code == "999999" { "888888" } else { "999999" };
        let refused = call(
            &router,
            "/auth/confirm",
            json!({"email": guessed, "code": wrong}),
        )
        .await;
        assert_eq!(refused.reason(), "invalid_code");
    }
    let burned = call(
        &router,
        "/auth/confirm",
        json!({"email": guessed, "code": code}),
    )
    .await;
    assert_eq!(
        burned.reason(),
        "invalid_code",
        "the code is burned after five wrong tries"
    );
}

pub async fn a_new_sign_up_before_confirming_replaces_the_code(b: Backend) {
    let email = new_address("twice");
    register(&b, &email, PASSWORD).await;
    let first = b.mail.last_code(&email);
    assert_eq!(
        register(&b, &email, OTHER_PASSWORD).await.status,
        StatusCode::ACCEPTED
    );
    let second = b.mail.last_code(&email);
    if b.checks_codes && first != second {
        assert_eq!(confirm(&b, &email, &first).await.reason(), "invalid_code");
    }
    assert_eq!(confirm(&b, &email, &second).await.status, StatusCode::OK);
    if b.checks_codes {
        // The embedded store keeps the newer password, as the newer sign-up asked.
        assert_eq!(
            login(&b, &email, OTHER_PASSWORD).await.status,
            StatusCode::OK
        );
    }
}

pub async fn an_unconfirmed_account_cannot_sign_in(b: Backend) {
    let email = new_address("early");
    register(&b, &email, PASSWORD).await;
    let early = login(&b, &email, PASSWORD).await;
    assert_eq!(
        (early.status, early.reason()),
        (StatusCode::FORBIDDEN, "not_confirmed"),
        "{}",
        b.name
    );
    let wrong = login(&b, &email, "Wrong password 1").await;
    assert_eq!(
        wrong.reason(),
        "invalid_credentials",
        "a wrong password learns nothing"
    );
}

pub async fn wrong_passwords_lock_the_address_for_a_while(b: Backend) {
    let email = new_address("locked");
    signed_up(&b, &email).await;
    for attempt in 1..=5 {
        let refused = login(&b, &email, "Wrong password 1").await;
        assert_eq!(
            refused.status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {refused:?}"
        );
        assert_eq!(refused.reason(), "invalid_credentials");
    }
    let locked = login(&b, &email, PASSWORD).await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}: {locked:?}",
        b.name
    );
    assert_eq!(locked.reason(), "too_many_attempts");
    assert_eq!(locked.retry_after, Some(15 * 60));
    // An address nobody has locks the same way: the lockout tells nothing.
    let nobody = new_address("nobody");
    for _ in 1..=5 {
        login(&b, &nobody, "Wrong password 1").await;
    }
    assert_eq!(
        login(&b, &nobody, PASSWORD).await.reason(),
        "too_many_attempts"
    );
    b.clock.advance(15 * 60 * Duration::from_secs(1));
    assert_eq!(login(&b, &email, PASSWORD).await.status, StatusCode::OK);
}

pub async fn refresh_gives_new_tokens_after_the_old_ones_expire(b: Backend) {
    // The embedded store's tokens are timed by its clock: one two hours behind issues tokens
    // that have expired already. moto's tokens last an hour of real time, so there the case
    // checks the refresh and its tokens only.
    let b = if b.tokens_follow_the_clock {
        crate::backends::embedded_at(vetted_core::Timestamp::from_unix_millis(
            now().unix_millis() - 2 * 3600 * 1000,
        ))
        .await
    } else {
        b
    };
    let email = new_address("refresh");
    let tokens = signed_up(&b, &email).await;
    let first = b.auth.authenticate(token(&tokens, "id_token")).await;
    if b.tokens_follow_the_clock {
        assert!(matches!(first, Err(AuthError::Expired)), "{first:?}");
        b.clock.advance(2 * HOUR + Duration::from_secs(60));
    }
    let renewed = refresh(&b, token(&tokens, "refresh_token")).await;
    assert_eq!(renewed.status, StatusCode::OK, "{}: {renewed:?}", b.name);
    assert_matches("session-tokens.json", &renewed.body);
    assert!(
        renewed.body.get("refresh_token").is_none(),
        "the refresh token is kept, not rotated"
    );
    let principal = b
        .auth
        .authenticate(token(&renewed.body, "id_token"))
        .await
        .unwrap();
    assert!(principal.has(Role::Owner));
    let garbage = refresh(&b, "not-a-refresh-token").await;
    assert_eq!(
        (garbage.status, garbage.reason()),
        (StatusCode::UNAUTHORIZED, "invalid_refresh_token")
    );
    if b.tokens_follow_the_clock {
        b.clock.advance(31 * 24 * HOUR);
        let stale = refresh(&b, token(&tokens, "refresh_token")).await;
        assert_eq!(
            stale.reason(),
            "invalid_refresh_token",
            "a session lasts 30 days"
        );
    }
}

pub async fn sign_out_ends_the_sessions(b: Backend) {
    let email = new_address("leaving");
    let tokens = signed_up(&b, &email).await;
    let other_device = login(&b, &email, PASSWORD).await.body;
    let anonymous = send(&b.router, post("/auth/logout", "", None)).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let mut request = post("/auth/logout", "", None);
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", token(&tokens, "access_token"))
            .parse()
            .unwrap(),
    );
    let out = send(&b.router, request).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}: {out:?}", b.name);
    for session in [&tokens, &other_device] {
        let refused = refresh(&b, token(session, "refresh_token")).await;
        assert_eq!(
            refused.reason(),
            "invalid_refresh_token",
            "{}: every session ended",
            b.name
        );
    }
    assert_eq!(
        login(&b, &email, PASSWORD).await.status,
        StatusCode::OK,
        "signing in again works"
    );
}

pub async fn a_reset_code_sets_a_new_password_once(b: Backend) {
    let email = new_address("reset");
    let tokens = signed_up(&b, &email).await;
    let forgot = call(&b.router, "/auth/forgot", json!({"email": email})).await;
    assert_eq!(forgot.status, StatusCode::ACCEPTED);
    let code = b.mail.last_code(&email);
    let reset = |code: String, password: &'static str| {
        let email = email.clone();
        let router = b.router.clone();
        async move {
            call(
                &router,
                "/auth/reset",
                json!({"email": email, "code": code, "password": password}),
            )
            .await
        }
    };
    let weak = reset(code.clone(), "short").await;
    assert_eq!(weak.reason(), "weak_password");
    if b.checks_codes {
        let wrong = if code == "111111" { "222222" } else { "111111" };
        assert_eq!(
            reset(wrong.to_owned(), OTHER_PASSWORD).await.reason(),
            "invalid_code"
        );
    }
    let done = reset(code.clone(), OTHER_PASSWORD).await;
    assert_eq!(done.status, StatusCode::OK, "{}: {done:?}", b.name);
    assert_eq!(
        login(&b, &email, PASSWORD).await.reason(),
        "invalid_credentials"
    );
    assert_eq!(
        login(&b, &email, OTHER_PASSWORD).await.status,
        StatusCode::OK
    );
    let old_session = refresh(&b, token(&tokens, "refresh_token")).await;
    assert_eq!(
        old_session.reason(),
        "invalid_refresh_token",
        "{}: a reset ends the sessions",
        b.name
    );
    if b.checks_codes {
        assert_eq!(
            reset(code, PASSWORD).await.reason(),
            "invalid_code",
            "a reset code works once"
        );
        // A reset code lasts an hour.
        call(&b.router, "/auth/forgot", json!({"email": email})).await;
        let code = b.mail.last_code(&email);
        b.clock.advance(HOUR + Duration::from_secs(1));
        assert_eq!(reset(code, PASSWORD).await.reason(), "invalid_code");
    }
}

pub async fn weak_passwords_and_bad_bodies_are_refused(b: Backend) {
    let email = new_address("bodies");
    let weak = register(&b, &email, "password").await;
    assert_eq!(
        (weak.status, weak.reason()),
        (StatusCode::BAD_REQUEST, "weak_password")
    );
    let message = weak.body["error"].as_str().unwrap();
    assert!(
        message.contains("at least 12 characters") && message.contains("a digit"),
        "{message}"
    );
    assert!(
        !message.contains("password\""),
        "the password is not echoed: {message}"
    );
    let bad_email = register(&b, "not an address", PASSWORD).await;
    assert_eq!(bad_email.reason(), "invalid_email");
    let cases: [(&str, String, &str); 4] = [
        ("/auth/register", "{not json".to_owned(), "invalid_json"),
        (
            "/auth/login",
            json!({"email": email, "password": PASSWORD, "admin": true}).to_string(),
            "unknown_field",
        ),
        (
            "/auth/confirm",
            json!({"email": email}).to_string(),
            "invalid_request",
        ),
        (
            "/auth/register",
            format!(
                "{{\"email\":\"{email}\",\"password\":\"{}\"}}",
                "A1a".repeat(40_000)
            ),
            "payload_too_large",
        ),
    ];
    for (path, body, reason) in cases {
        let answer = send(&b.router, post(path, body, None)).await;
        assert_eq!(answer.reason(), reason, "{path}: {answer:?}");
    }
    let long = register(&b, &email, &format!("Aa1{}", "x".repeat(300))).await;
    assert_eq!(long.reason(), "weak_password", "at most 256 bytes");
    let long_login = login(&b, &email, &"Aa1".repeat(1000)).await;
    assert_eq!(long_login.reason(), "invalid_credentials");
    assert_eq!(
        b.mail.count_to(&normal(&email)).unwrap_or(0),
        0,
        "nothing was sent"
    );
}

pub async fn one_client_address_is_rate_limited(b: Backend) {
    let router = b.with_limits(AuthLimits::default());
    let client: IpAddr = "192.0.2.10".parse().unwrap();
    let body =
        || json!({"email": "nobody@example.com", "password": "Wrong password 1"}).to_string();
    let mut refused = None;
    for _ in 0..=AuthLimits::default().per_ip_burst {
        let answer = send(&router, post("/auth/login", body(), Some(client))).await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS && answer.reason() == "too_many_requests"
        {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.expect("the burst is limited");
    assert!(refused.retry_after.is_some());
    let elsewhere = send(
        &router,
        post("/auth/login", body(), Some("192.0.2.11".parse().unwrap())),
    )
    .await;
    assert_ne!(
        elsewhere.reason(),
        "too_many_requests",
        "another address has its own allowance"
    );
}

pub async fn codes_sent_to_one_address_are_limited(b: Backend) {
    let email = new_address("flooded");
    signed_up(&b, &email).await;
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(call(&b.router, "/auth/forgot", json!({"email": email})).await);
    }
    // Sign-up sent one code already: four more resets fit in the hour, then 429.
    let refused: Vec<_> = answers
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(refused.len(), 2, "{}: {answers:?}", b.name);
    assert_eq!(refused[0].reason(), "too_many_attempts");
    if let Some(count) = b.mail.count_to(&normal(&email)) {
        assert_eq!(count, 5, "no email is sent once the limit is reached");
    }
}

pub async fn an_invitation_joins_the_account_when_it_confirms_or_signs_in(b: Backend) {
    use vetted_core::ports::{Invitation, Invitations, Restaurants};
    use vetted_core::restaurant::{MemberRole, Restaurant, RestaurantId};
    let trattoria = RestaurantId::parse("trattoria").unwrap();
    let sushi = RestaurantId::parse("sushi").unwrap();
    for id in [&trattoria, &sushi] {
        let restaurant = Restaurant {
            id: id.clone(),
            name: id.to_string(),
            created_at: now(),
        };
        b.restaurants.create(&restaurant).await.unwrap();
    }
    let email = new_address("cook");
    let invite = |restaurant: &RestaurantId, role| Invitation {
        restaurant: restaurant.clone(),
        email: vetted_core::notify::EmailAddress::parse(&normal(&email)).unwrap(),
        role,
        invited_by: "owner-1".to_owned(),
        invited_at: now(),
        expires_at: vetted_core::Timestamp::from_unix_millis(now().unix_millis() + 3_600_000),
    };
    b.invitations
        .put(&invite(&trattoria, MemberRole::Staff))
        .await
        .unwrap();
    let tokens = signed_up(&b, &email).await;
    let user = b
        .auth
        .authenticate(token(&tokens, "id_token"))
        .await
        .unwrap()
        .owner_id()
        .unwrap();
    assert_eq!(
        b.restaurants.membership(&trattoria, &user).await.unwrap(),
        Some(MemberRole::Staff),
        "{}: confirming the account accepted the invitation",
        b.name
    );
    // An invitation sent after the account exists joins it at its next sign-in.
    b.invitations
        .put(&invite(&sushi, MemberRole::Owner))
        .await
        .unwrap();
    assert_eq!(login(&b, &email, PASSWORD).await.status, StatusCode::OK);
    assert_eq!(
        b.restaurants.membership(&sushi, &user).await.unwrap(),
        Some(MemberRole::Owner)
    );
    let address = vetted_core::notify::EmailAddress::parse(&normal(&email)).unwrap();
    assert!(
        b.invitations
            .for_address(&address)
            .await
            .unwrap()
            .is_empty(),
        "both were used"
    );
}
