//! `vetted token`: prints a dev token that a `vetted serve` on the same data directory accepts.
//!
//! The token is HS256, signed with the dev key in `{data}/dev-jwt.key` (created on first use),
//! and carries the role as `cognito:groups`, exactly as a Cognito token would.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use vetted_api::auth::{DevKey, Role};
use vetted_core::notify::EmailAddress;
use vetted_core::{Clock, ModeratorId, OwnerId, SystemClock};

/// The data directory when neither `--data` nor `VETTED_DATA` names one.
pub const DEFAULT_DATA_DIR: &str = "vetted-data";
/// Dev tokens live at most this long.
const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TokenRole {
    /// Uploads for the restaurants the user is a member of.
    Owner,
    /// Reviews uploads and rolls slots back.
    Moderator,
    /// A moderator who also creates restaurants and manages their members.
    Admin,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The user id (the token's `sub`): 1 to 128 characters of A-Z, a-z, 0-9, '-' or '_'.
    #[arg(long)]
    user: String,
    /// The role the token grants.
    #[arg(long, value_enum)]
    role: TokenRole,
    /// The data directory of the `vetted serve` that should accept the token.
    #[arg(long, env = "VETTED_DATA", default_value = DEFAULT_DATA_DIR)]
    data: PathBuf,
    /// How long the token is valid: a number with s, m, h or d (at most 30d).
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    ttl: Duration,
    /// An email address for the token to carry (as a verified `email` claim): where owner
    /// notifications go once this user opts in with PUT /api/me/notifications, or a
    /// moderator's escalation emails once they subscribe with PUT /api/me/escalations.
    #[arg(long)]
    email: Option<String>,
}

pub fn run(args: TokenArgs) -> anyhow::Result<()> {
    println!("{}", issue(&args)?);
    Ok(())
}

/// The token `run` prints.
fn issue(args: &TokenArgs) -> anyhow::Result<String> {
    let roles: &[Role] = match args.role {
        TokenRole::Owner => {
            OwnerId::parse(&args.user)?;
            &[Role::Owner]
        }
        TokenRole::Moderator => {
            ModeratorId::parse(&args.user)?;
            &[Role::Moderator]
        }
        TokenRole::Admin => {
            ModeratorId::parse(&args.user)?;
            &[Role::Moderator, Role::Admin]
        }
    };
    if let Some(email) = &args.email {
        EmailAddress::parse(email).with_context(|| format!("--email {email:?}"))?;
    }
    let key = DevKey::load_or_create(&args.data)
        .with_context(|| format!("dev key in {}", args.data.display()))?;
    Ok(key.issue_with_email(
        &args.user,
        roles,
        args.email.as_deref(),
        args.ttl,
        SystemClock.now(),
    )?)
}

fn parse_ttl(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text.len().saturating_sub(1);
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .with_context(|| format!("{text:?}: expected a number and a unit, like 30m or 1h"))?;
    let seconds = match unit {
        "s" => number,
        "m" => number.saturating_mul(60),
        "h" => number.saturating_mul(3600),
        "d" => number.saturating_mul(86_400),
        _ => bail!("{text:?}: the unit must be s, m, h or d"),
    };
    let ttl = Duration::from_secs(seconds);
    if ttl.is_zero() || ttl > MAX_TTL {
        bail!("{text:?}: a dev token lives 1s to 30d");
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_is_accepted_by_a_server_on_the_same_data_directory() {
        let data = tempfile::tempdir().unwrap();
        let args = TokenArgs {
            user: "owner-1".into(),
            role: TokenRole::Owner,
            data: data.path().join("vetted"),
            ttl: Duration::from_secs(3600),
            email: Some("owner-1@example.com".into()),
        };
        let token = issue(&args).unwrap();
        // What `vetted serve` does with the same directory.
        let key = DevKey::load_or_create(&data.path().join("vetted")).unwrap();
        let auth = vetted_api::Authenticator::new(Some(key), None).unwrap();
        let principal = auth.authenticate(&token).await.unwrap();
        assert_eq!(principal.owner_id().unwrap().as_str(), "owner-1");
        assert_eq!(
            principal.email.as_ref().map(|e| e.as_str()),
            Some("owner-1@example.com")
        );
        let bad_email = TokenArgs {
            email: Some("not an address".into()),
            user: args.user.clone(),
            data: args.data.clone(),
            ..args
        };
        assert!(issue(&bad_email).is_err());
        let args = TokenArgs {
            email: None,
            ..bad_email
        };
        let bad_user = TokenArgs {
            user: "a/b".into(),
            ..args
        };
        assert!(issue(&bad_user).is_err());
    }

    #[test]
    fn ttls_parse_with_units_and_bounds() {
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_ttl("45s").unwrap(), Duration::from_secs(45));
        assert_eq!(parse_ttl("2d").unwrap(), Duration::from_secs(172_800));
        for bad in ["", "h", "1", "0h", "31d", "1w", "-1h", "1.5h"] {
            assert!(parse_ttl(bad).is_err(), "{bad:?} accepted");
        }
    }
}
