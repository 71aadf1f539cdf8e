//! `lore admin`: local accounts, for installations where people sign in to Lore itself
//! (`auth.mode = "accounts"`). There is no default account and no default password: the first
//! administrator is made here, on the server's machine, by someone who can run `lore`.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use lore_core::accounts::{self, password, AccountStore, NewLocalUser, UserId, UserRecord};
use lore_core::audit::AuditAction;
use lore_core::config::{AuthMode, Config};
use lore_core::now_ms;
use lore_engine as engine;

use super::audit::record_cli_change;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Make a local account that administers. The password is asked for twice (or read from the first
    /// line of standard input when it is not a terminal).
    Create(CreateArgs),
    /// Set a local account's password; its sessions end.
    Password(NameArgs),
    /// List every account (local and signed in through an identity provider).
    List(ListArgs),
    /// Stop an account from signing in; its sessions end at once.
    Disable(NameArgs),
    /// Let a disabled account sign in again.
    Enable(NameArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    /// Login name: lowercase letters, digits, '.', '_', '-'. The account reads as `user:NAME`.
    name: String,
    /// Name shown in the pages; default: the login name.
    #[arg(long)]
    display_name: Option<String>,
    /// A group the account also reads as (`group:G`); repeatable.
    #[arg(long = "group", value_name = "G")]
    groups: Vec<String>,
}

#[derive(Args)]
pub struct NameArgs {
    /// Login name of the local account.
    name: String,
}

#[derive(Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(config: Config, command: AdminCommand) -> anyhow::Result<ExitCode> {
    let db = engine::open_accounts_db(&config).await?;
    let store = db.accounts.as_ref();
    let (done, change) = match command {
        AdminCommand::Create(args) => create(&config, store, args).await?,
        AdminCommand::Password(args) => set_password(store, &args.name).await?,
        AdminCommand::List(args) => return list(store, args.json).await,
        AdminCommand::Disable(args) => set_disabled(store, &args.name, true).await?,
        AdminCommand::Enable(args) => set_disabled(store, &args.name, false).await?,
    };
    let (user, subject) = change;
    record_cli_change(&config, db.audit.as_ref(), Some(user), AuditAction::UserChange, &subject).await?;
    Ok(done)
}

/// What a command changed, for the audit log: whose account, and how.
type AccountChange = (UserId, String);

async fn create(
    config: &Config,
    store: &dyn AccountStore,
    args: CreateArgs,
) -> anyhow::Result<(ExitCode, AccountChange)> {
    accounts::check_login(&args.name)?;
    let mut principals = vec![accounts::local_user_principal(&args.name)];
    for group in &args.groups {
        accounts::check_login(group).context("a group name follows the rules of login names")?;
        principals.push(format!("group:{group}"));
    }
    let display_name = args.display_name.as_deref().map(str::trim).filter(|n| !n.is_empty()).unwrap_or(&args.name);
    anyhow::ensure!(display_name.chars().count() <= 100, "the display name may have at most 100 characters");
    let hash = new_password_hash().await?;
    let user =
        NewLocalUser { login: &args.name, display_name, password_hash: &hash, principals: &principals, is_admin: true };
    let Some(user) = store.create_local_user(&user, now_ms()).await? else {
        anyhow::bail!(
            "there is already an account named '{}': `lore admin password {0}` changes its password",
            args.name
        );
    };
    println!("Created administrator '{}' (reads as {}).", user.subject, user.principals.join(", "));
    if config.auth.effective_mode(&config.server) != AuthMode::Accounts {
        println!("Sign-in is off: set auth.mode = \"accounts\" (LORE_AUTH__MODE=accounts) and restart `lore serve`.");
    }
    let subject = format!("administrator {} created, reading as {}", user.subject, user.principals.join(", "));
    Ok((ExitCode::SUCCESS, (user.id, subject)))
}

async fn set_password(store: &dyn AccountStore, name: &str) -> anyhow::Result<(ExitCode, AccountChange)> {
    let Some((user, _)) = store.local_credentials(name).await? else {
        anyhow::bail!("there is no local account named '{name}' (`lore admin list` shows them)");
    };
    let hash = new_password_hash().await?;
    store.set_local_password(name, &hash).await?;
    println!("Password of '{name}' changed; its sessions have ended.");
    Ok((ExitCode::SUCCESS, (user.id, format!("password of {name} changed"))))
}

async fn set_disabled(
    store: &dyn AccountStore,
    name: &str,
    disabled: bool,
) -> anyhow::Result<(ExitCode, AccountChange)> {
    let users = store.users().await?;
    let user = find_user(&users, name)?;
    store.set_disabled(user.id, disabled).await?;
    let action = match disabled {
        true => {
            println!("'{name}' can no longer sign in; its sessions have ended.");
            "disabled"
        }
        false => {
            println!("'{name}' can sign in again.");
            "enabled"
        }
    };
    Ok((ExitCode::SUCCESS, (user.id, format!("user {} ({name}) {action}", user.id.0))))
}

/// A user by local login name, or by OpenID subject when no local account has that name.
pub(crate) fn find_user<'a>(users: &'a [UserRecord], name: &str) -> anyhow::Result<&'a UserRecord> {
    users
        .iter()
        .find(|u| u.issuer == accounts::LOCAL_ISSUER && u.subject == name)
        .or_else(|| users.iter().find(|u| u.subject == name))
        .with_context(|| format!("there is no account named '{name}' (`lore admin list` shows them)"))
}

async fn list(store: &dyn AccountStore, json: bool) -> anyhow::Result<ExitCode> {
    let users = store.users().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "users": users }))?);
        return Ok(ExitCode::SUCCESS);
    }
    if users.is_empty() {
        println!("No accounts yet: `lore admin create NAME` makes the first administrator.");
    }
    for user in &users {
        let mut flags = Vec::new();
        if user.is_admin {
            flags.push("administrator");
        }
        if user.disabled {
            flags.push("disabled");
        }
        println!(
            "{:<20} {:<10} {}{}",
            user.subject,
            if user.issuer == accounts::LOCAL_ISSUER { "local" } else { user.issuer.as_str() },
            user.principals.join(", "),
            if flags.is_empty() { String::new() } else { format!("  ({})", flags.join(", ")) }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// [`hashed_new_password`] off the async threads (it reads the terminal and hashes).
async fn new_password_hash() -> anyhow::Result<String> {
    tokio::task::spawn_blocking(hashed_new_password).await.context("reading the password crashed")?
}

/// Reads a new password (twice, without echo, on a terminal; one line otherwise), checks it and
/// hashes it.
fn hashed_new_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let first = prompt_hidden("New password: ")?;
        password::check_new(&first)?;
        let second = prompt_hidden("Again: ")?;
        anyhow::ensure!(first == second, "the two passwords differ; nothing was changed");
        first
    } else {
        let mut line = String::new();
        // At most one line of a bounded length: the password is not the whole of standard input.
        stdin
            .lock()
            .take(password::MAX_CHARS as u64 * 4 + 2)
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    password::check_new(&password)?;
    Ok(password::hash(&password))
}

/// Reads a line from the terminal with echo off, restoring the terminal whatever happens.
fn prompt_hidden(prompt: &str) -> anyhow::Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr fills it for a terminal file descriptor (checked above).
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    anyhow::ensure!(unsafe { libc::tcgetattr(fd, &mut saved) } == 0, "cannot read the terminal's settings");
    let mut quiet = saved;
    quiet.c_lflag &= !libc::ECHO;
    quiet.c_lflag |= libc::ECHONL;
    // SAFETY: setting attributes of the same terminal from a value it gave.
    anyhow::ensure!(unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) } == 0, "cannot turn off echo");
    let mut line = String::new();
    let read = std::io::stdin().lock().take(password::MAX_CHARS as u64 * 4 + 2).read_line(&mut line);
    // SAFETY: as above; restores what tcgetattr returned.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    read.context("cannot read the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
