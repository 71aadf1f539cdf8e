//! `lore serve`: the web UI and API on one address, with the sources kept in sync in the background.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use lore_core::config::Config;

use super::signals::ShutdownSignals;
use lore_web::{Application, ServeOptions};

#[derive(Args)]
pub struct ServeArgs {
    /// Address and port to listen on; default server.addr (127.0.0.1:8080).
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<SocketAddr>,
    /// A folder to add as a source (named after the folder) and index in the background (repeatable).
    #[arg(long, value_name = "FOLDER")]
    pub ingest: Vec<PathBuf>,
    /// Serve only (a stateless web replica): ingestion jobs go to the shared queue, run by `lore
    /// worker`s. Needs catalog.url (PostgreSQL) and vectors.url (a Qdrant server).
    #[arg(long)]
    pub no_worker: bool,
}

pub async fn run(config: Config, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let addr = match args.addr {
        Some(addr) => addr,
        None => config.server.addr.parse().context("server.addr is not an address and port")?,
    };
    // Listening before anything starts: a stop requested while the model loads is kept, not lost (nor
    // ignored, when the process was started with SIGINT ignored, as `nohup` and `cmd &` do).
    let stop = ShutdownSignals::listen()?;
    let app = Application::build(config, ServeOptions { addr, ingest: args.ingest, no_worker: args.no_worker }).await?;
    eprintln!("Lore is serving http://{} (Ctrl-C stops it)", SocketAddr::new(addr.ip(), app.port()));
    app.run_until_stopped(stop.received()).await?;
    Ok(ExitCode::SUCCESS)
}
