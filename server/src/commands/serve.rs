//! `lore serve`: the web UI and API on one address, with the sources kept in sync in the background.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use lore_core::config::Config;

use crate::web::{Application, ServeOptions};

#[derive(Args)]
pub struct ServeArgs {
    /// Address and port to listen on; default server.addr (127.0.0.1:8080).
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<SocketAddr>,
    /// A folder to add as a source (named after the folder) and index in the background (repeatable).
    #[arg(long, value_name = "FOLDER")]
    pub ingest: Vec<PathBuf>,
}

pub async fn run(config: Config, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let addr = match args.addr {
        Some(addr) => addr,
        None => config.server.addr.parse().context("server.addr is not an address and port")?,
    };
    let app = Application::build(config, ServeOptions { addr, ingest: args.ingest }).await?;
    eprintln!("Lore is serving http://{} (Ctrl-C stops it)", SocketAddr::new(addr.ip(), app.port()));
    app.run_until_stopped(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM (what `docker stop` and systemd send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
