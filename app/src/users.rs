//! `vetted users grant`: gives an account of the embedded store a role, which is how the first
//! moderator and admin are made on one machine. (On AWS the same is one
//! `aws cognito-idp admin-add-user-to-group`; README says how.)
//!
//! The account signs up on the page first; the role takes effect at its next sign-in or
//! token refresh. It works while `vetted serve` runs on the same data directory.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use vetted_core::accounts::AccountEmail;
use vetted_embedded::db::Db;
use vetted_embedded::sqlite_accounts::grant_group;

use crate::token::DEFAULT_DATA_DIR;

#[derive(Debug, Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    command: UsersCommand,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Give an account a role, e.g. `vetted users grant ana@example.com admin`.
    Grant(GrantArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GrantedRole {
    /// Reviews uploads and rolls slots back (the `moderators` group).
    Moderator,
    /// A moderator who also creates restaurants and names their owners (`moderators` and
    /// `admins`).
    Admin,
}

#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The account's email address, as it signed up.
    email: String,
    /// The role to add.
    #[arg(value_enum)]
    role: GrantedRole,
    /// The data directory of the `vetted serve` the account signed up on.
    #[arg(long, env = "VETTED_DATA", default_value = DEFAULT_DATA_DIR)]
    data: PathBuf,
}

pub fn run(args: UsersArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match args.command {
        UsersCommand::Grant(args) => runtime.block_on(grant(&args)),
    }
}

/// The groups a role means, in the order they are added.
fn groups(role: GrantedRole) -> &'static [&'static str] {
    match role {
        GrantedRole::Moderator => &["moderators"],
        GrantedRole::Admin => &["moderators", "admins"],
    }
}

async fn grant(args: &GrantArgs) -> anyhow::Result<()> {
    let email = AccountEmail::parse(&args.email).with_context(|| format!("{:?}", args.email))?;
    let path = args.data.join("vetted.db");
    if !path.exists() {
        anyhow::bail!(
            "{} does not exist: pass the --data of the `vetted serve` the account signed up on",
            path.display()
        );
    }
    let db = Db::open(&path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    for group in groups(args.role) {
        grant_group(&db, &email, group).await?;
    }
    println!(
        "{} is now in {}; it takes effect at the next sign-in",
        email.as_str(),
        groups(args.role).join(" and ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_role_is_granted_to_an_account_and_refused_for_a_stranger() {
        let data = tempfile::tempdir().unwrap();
        let args = |email: &str| GrantArgs {
            email: email.to_owned(),
            role: GrantedRole::Admin,
            data: data.path().to_owned(),
        };
        let missing = grant(&args("ana@example.com")).await.unwrap_err();
        assert!(missing.to_string().contains("does not exist"), "{missing}");
        let db = Db::open(data.path().join("vetted.db")).await.unwrap();
        db.call(|conn| {
            conn.execute(
                "INSERT INTO accounts (subject, email, password_hash, confirmed_at, groups,
                     created_at)
                 VALUES ('s-1', 'ana@example.com', 'x', 1, 'owners', 1)",
                [],
            )
        })
        .await
        .unwrap();
        grant(&args("Ana@Example.com")).await.unwrap();
        grant(&args("ana@example.com")).await.unwrap();
        let groups: String = db
            .read(|conn| {
                conn.query_row(
                    "SELECT groups FROM accounts WHERE subject = 's-1'",
                    [],
                    |row| row.get(0),
                )
            })
            .await
            .unwrap();
        assert_eq!(groups, "owners moderators admins", "added once each");
        let stranger = grant(&args("bob@example.com")).await.unwrap_err();
        assert!(stranger.to_string().contains("no account"), "{stranger}");
    }
}
