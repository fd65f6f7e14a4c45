//! Tests of the dev key and of HS256 verification. RS256 through a JWKS URL is tested over
//! HTTP in `tests/auth_jwks.rs`.

use std::time::Duration;

use base64::Engine as _;
use vetted_core::{Clock, SystemClock};

use super::*;

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn auth(key: DevKey) -> Authenticator {
    Authenticator::new(Some(key), None).unwrap()
}

#[tokio::test]
async fn a_dev_token_round_trips_with_its_role() {
    let dir = dir();
    let key = DevKey::load_or_create(dir.path()).unwrap();
    let token = key
        .issue(
            "owner-1",
            Role::Owner,
            Duration::from_secs(3600),
            SystemClock.now(),
        )
        .unwrap();
    let principal = auth(key).authenticate(&token).await.unwrap();
    assert_eq!(principal.subject, "owner-1");
    assert_eq!(principal.owner_id().unwrap().as_str(), "owner-1");
    assert!(matches!(
        principal.moderator_id(),
        Err(AuthError::Forbidden(Role::Moderator))
    ));
}

#[tokio::test]
async fn the_key_file_is_created_once_private_and_reused() {
    let dir = dir();
    let first = DevKey::load_or_create(&dir.path().join("data")).unwrap();
    let path = dir.path().join("data").join(DEV_KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.trim().len(), 64);
    let token = first
        .issue(
            "m1",
            Role::Moderator,
            Duration::from_secs(60),
            SystemClock.now(),
        )
        .unwrap();
    let second = DevKey::load_or_create(&dir.path().join("data")).unwrap();
    let principal = auth(second).authenticate(&token).await.unwrap();
    assert_eq!(principal.moderator_id().unwrap().as_str(), "m1");
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = dir();
    DevKey::load_or_create(dir.path()).unwrap();
    let path = dir.path().join(DEV_KEY_FILE);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = DevKey::load_or_create(dir.path()).unwrap_err();
    assert!(matches!(err, DevKeyError::TooOpen(_)), "{err}");
    std::fs::write(&path, "short").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(
        DevKey::load_or_create(dir.path()),
        Err(DevKeyError::Malformed(_))
    ));
}

#[tokio::test]
async fn expired_forged_and_unsigned_tokens_are_refused() {
    let key = DevKey::from_secret(&[7u8; 32]);
    let other = DevKey::from_secret(&[8u8; 32]);
    let now = SystemClock.now();
    let hour = Duration::from_secs(3600);
    let two_hours_ago = vetted_core::Timestamp::from_unix_millis(now.unix_millis() - 7_200_000);
    let expired = key.issue("o", Role::Owner, hour, two_hours_ago).unwrap();
    let forged = other.issue("o", Role::Owner, hour, now).unwrap();
    let auth = auth(key);
    assert!(matches!(
        auth.authenticate(&expired).await,
        Err(AuthError::Expired)
    ));
    assert!(matches!(
        auth.authenticate(&forged).await,
        Err(AuthError::Invalid(_))
    ));
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let exp = now.unix_seconds() + 3600;
    let claims =
        format!(r#"{{"sub":"o","iss":"vetted-dev","exp":{exp},"cognito:groups":["owners"]}}"#);
    let unsigned = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&claims));
    assert!(auth.authenticate(&unsigned).await.is_err());
    assert!(auth.authenticate("not-a-jwt").await.is_err());
}

#[tokio::test]
async fn groups_other_than_ours_grant_nothing() {
    let key = DevKey::from_secret(&[1u8; 32]);
    let token = key
        .issue("o", Role::Owner, Duration::from_secs(60), SystemClock.now())
        .unwrap();
    let principal = auth(key).authenticate(&token).await.unwrap();
    assert_eq!(principal.roles.len(), 1);
    assert_eq!(Role::from_group("admins"), Some(Role::Admin));
    assert_eq!(Role::from_group("administrators"), None);
}

#[test]
fn an_authenticator_needs_a_verifier() {
    assert!(Authenticator::new(None, None).is_err());
    assert_eq!(
        format!("{:?}", DevKey::from_secret(b"x")),
        "DevKey(<redacted>)"
    );
}
