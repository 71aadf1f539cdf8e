//! Watch: keeps a folder in sync as files change, until cancelled.
//!
//! File-system events only say *that* something changed; each burst of events (after a quiet period)
//! triggers an ordinary incremental sync, which finds out *what* changed cheaply (size and modification
//! time first, content hash second). So a missed or coalesced event can delay an update, never lose it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::progress::Progress;
use crate::sync::{SyncError, SyncOptions, SyncReport, Syncer};

/// Events closer together than this are one change (an editor's save is several writes).
const QUIET_PERIOD: Duration = Duration::from_millis(750);
const CANCEL_POLL: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch {path}: {reason}")]
    Watch { path: std::path::PathBuf, reason: String },
    #[error(transparent)]
    Sync(#[from] SyncError),
}

/// Syncs once, then again after every burst of changes under the folder, until `cancel` is set.
/// `on_sync` hears every sync's report.
pub async fn watch(
    syncer: &Syncer,
    options: &SyncOptions,
    progress: Arc<dyn Progress>,
    cancel: Arc<AtomicBool>,
    mut on_sync: impl FnMut(&SyncReport),
) -> Result<(), WatchError> {
    let (tx, mut changes) = mpsc::unbounded_channel();
    let watch_err =
        |e: notify::Error| WatchError::Watch { path: options.root.clone(), reason: e.to_string().to_lowercase() };
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if !event.kind.is_access() {
                let _ = tx.send(());
            }
        }
    })
    .map_err(watch_err)?;
    watcher.watch(&options.root, RecursiveMode::Recursive).map_err(watch_err)?;

    loop {
        let report = syncer.sync(options, progress.clone(), cancel.clone()).await?;
        on_sync(&report);
        // Wait for a change (or cancellation), then for the quiet period that ends its burst.
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Ok(());
            }
            match tokio::time::timeout(CANCEL_POLL, changes.recv()).await {
                Ok(Some(())) => break,
                Ok(None) => return Ok(()),
                Err(_) => continue,
            }
        }
        while let Ok(Some(())) = tokio::time::timeout(QUIET_PERIOD, changes.recv()).await {}
        tracing::info!(source = %options.source, "changes detected, syncing");
    }
}
