//! `lore token`: API tokens for programs (scripts, OpenAI clients), made on the server's machine for a
//! user (`auth.mode = "accounts"`). Users make their own on the Tokens page.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use lore_core::accounts::{self, Scope, TokenId, TokenRecord, TokenRequest};
use lore_core::audit::AuditAction;
use lore_core::config::Config;
use lore_core::now_ms;
use lore_engine as engine;

use super::admin::find_user;
use super::audit::record_cli_change;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Make a token for a user and print it (it is shown this once; only its fingerprint is kept).
    Create(CreateArgs),
    /// List a user's tokens (never the tokens themselves).
    List(ListArgs),
    /// Revoke a token at once.
    Revoke(RevokeArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    /// Whose token: the login name of a local account, or an identity provider's subject.
    #[arg(long)]
    user: String,
    /// What it is for ("nightly report").
    #[arg(long)]
    name: String,
    /// What it may do: search, ask, admin (repeatable); default: search and ask.
    #[arg(long = "scope", value_name = "SCOPE", value_parser = parse_scope)]
    scopes: Vec<Scope>,
    /// Narrow it to some of the user's principals (repeatable); default: all of them.
    #[arg(long = "principal", value_name = "P")]
    principals: Vec<String>,
    /// Days until it expires; 0: never.
    #[arg(long, default_value_t = 90)]
    expires_days: u32,
}

#[derive(Args)]
pub struct ListArgs {
    #[arg(long)]
    user: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RevokeArgs {
    #[arg(long)]
    user: String,
    /// The token's id (`lore token list`).
    id: i64,
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    Scope::parse(s).ok_or_else(|| format!("unknown scope {s:?}: search, ask or admin"))
}

pub async fn run(config: Config, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let db = engine::open_accounts_db(&config).await?;
    let (store, log) = (db.accounts, db.audit);
    let users = store.users().await?;
    match command {
        TokenCommand::Create(args) => {
            let owner = find_user(&users, &args.user)?;
            let scopes = if args.scopes.is_empty() { vec![Scope::Search, Scope::Ask] } else { args.scopes };
            let now = now_ms();
            let request = TokenRequest {
                user: owner.id,
                name: args.name,
                scopes,
                principals: (!args.principals.is_empty()).then_some(args.principals),
                expires_ms: (args.expires_days > 0).then(|| now + i64::from(args.expires_days) * 86_400_000),
            };
            let (token, record) = accounts::issue_token(store.as_ref(), request, now).await?;
            let scopes: Vec<&str> = record.scopes.iter().map(|s| s.as_str()).collect();
            let subject = format!("{} ({}: {}) for {}", record.id.0, record.name, scopes.join(", "), args.user);
            record_cli_change(&config, log.as_ref(), Some(owner.id), AuditAction::TokenCreate, &subject).await?;
            eprintln!(
                "Token {} for '{}' ({}); copy it now, it is not shown again:",
                record.id.0,
                args.user,
                describe(&record)
            );
            println!("{token}");
        }
        TokenCommand::List(args) => {
            let owner = find_user(&users, &args.user)?;
            let tokens = store.tokens_of(owner.id).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "tokens": tokens }))?);
                return Ok(ExitCode::SUCCESS);
            }
            if tokens.is_empty() {
                println!("'{}' has no tokens.", args.user);
            }
            for token in &tokens {
                println!("{:>5}  {:<24} {}…  {}", token.id.0, token.name, token.hint, describe(token));
            }
        }
        TokenCommand::Revoke(args) => {
            let owner = find_user(&users, &args.user)?;
            anyhow::ensure!(
                store.revoke_token(owner.id, TokenId(args.id), now_ms()).await?,
                "'{}' has no live token {} (`lore token list --user {0}`)",
                args.user,
                args.id
            );
            let subject = format!("{} of {}", args.id, args.user);
            record_cli_change(&config, log.as_ref(), Some(owner.id), AuditAction::TokenRevoke, &subject).await?;
            println!("Token {} of '{}' is revoked.", args.id, args.user);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// "search, ask · expires in 90 days · never used" and the like.
fn describe(token: &TokenRecord) -> String {
    let scopes: Vec<&str> = token.scopes.iter().map(|s| s.as_str()).collect();
    let now = now_ms();
    let state = token.state(now);
    let narrowed = token.principals.as_ref().map(|p| format!(" · only {}", p.join(", "))).unwrap_or_default();
    let used = match token.last_used_ms {
        Some(at) => format!("last used {} min ago", (now - at).max(0) / 60_000),
        None => "never used".to_string(),
    };
    format!("{}{narrowed} · {state} · {used}", scopes.join(", "))
}
