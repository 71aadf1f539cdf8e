//! `lore audit export`: the audit log as JSON lines, oldest first, for an archive or a SIEM.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use lore_core::accounts::UserId;
use lore_core::audit::{AuditAction, AuditEvent, AuditLog, AuditQuery, MAX_EVENTS};
use lore_core::config::Config;
use lore_engine as engine;

use crate::dates::parse_date_ms;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Print events as JSON lines (id, at_ms, user, actor, client, action, subject), oldest first.
    Export(ExportArgs),
}

#[derive(Args)]
pub struct ExportArgs {
    /// From this day on (YYYY-MM-DD, UTC).
    #[arg(long, value_parser = parse_date_ms)]
    since: Option<i64>,
    /// Before this day (YYYY-MM-DD, UTC).
    #[arg(long, value_parser = parse_date_ms)]
    until: Option<i64>,
    /// Only this action (search, ask, open, download, sign_in, source_add, ...).
    #[arg(long, value_parser = parse_action)]
    action: Option<AuditAction>,
}

fn parse_action(s: &str) -> Result<AuditAction, String> {
    AuditAction::parse(s).ok_or_else(|| {
        let known: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        format!("unknown action {s:?}: one of {}", known.join(", "))
    })
}

pub async fn run(config: Config, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let AuditCommand::Export(args) = command;
    let log = engine::open_accounts_db(&config).await?.audit;
    let query =
        AuditQuery { since_ms: args.since, until_ms: args.until, user: None, action: args.action, limit: MAX_EVENTS };
    let events = log.events(&query).await?;
    if events.len() == MAX_EVENTS {
        eprintln!("The export stops at {MAX_EVENTS} events: narrow it with --since and --until for the rest.");
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for event in events.iter().rev() {
        serde_json::to_writer(&mut out, event)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Records an account or token change made on the command line (when the audit log is on): the actor
/// is the operating-system user who ran `lore`, with no client address.
pub(crate) async fn record_cli_change(
    config: &Config,
    log: &dyn AuditLog,
    user: Option<UserId>,
    action: AuditAction,
    subject: &str,
) -> anyhow::Result<()> {
    if !config.audit.enabled {
        return Ok(());
    }
    let who = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    let event = AuditEvent::now(user, &format!("command line ({who})"), None, action, subject);
    log.append(&[event])
        .await
        .map_err(|e| anyhow::anyhow!("the change was made, but the audit log could not record it: {e}"))
}
