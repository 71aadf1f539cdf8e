//! Stop requests from outside: Ctrl-C and SIGTERM.

use anyhow::Context;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Ctrl-C or SIGTERM (what `docker stop` and systemd send), listened for from `listen` on.
pub struct ShutdownSignals {
    interrupt: Signal,
    terminate: Signal,
}

impl ShutdownSignals {
    pub fn listen() -> anyhow::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?,
            terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    pub async fn received(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {},
            _ = self.terminate.recv() => {},
        }
    }
}
