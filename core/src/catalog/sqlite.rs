//! The embedded catalog: one SQLite file in WAL mode, so readers (`lore status`, searches) never wait
//! for the writer.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::sync::Arc;
use tokio::sync::watch;

use super::sql::impl_sql_catalog;
use super::*;
use crate::queue::{impl_sql_queue, QueueWaiter, Wake};
use crate::types::{now_ms, Chunk, DocumentId};

#[derive(Debug, Clone)]
pub struct SqliteCatalog {
    pool: SqlitePool,
    /// Wakes this process's queue waiters at once; other processes notice by polling.
    signals: Arc<QueueSignals>,
}

#[derive(Debug)]
struct QueueSignals {
    work: watch::Sender<u64>,
    change: watch::Sender<u64>,
}

impl QueueSignals {
    fn new() -> Arc<Self> {
        Arc::new(Self { work: watch::channel(0).0, change: watch::channel(0).0 })
    }

    fn sender(&self, wake: Wake) -> &watch::Sender<u64> {
        match wake {
            Wake::Work => &self.work,
            Wake::Change => &self.change,
        }
    }
}

struct SignalWaiter(watch::Receiver<u64>);

#[async_trait::async_trait]
impl QueueWaiter for SignalWaiter {
    async fn wait(&mut self, timeout: Duration) {
        match tokio::time::timeout(timeout, self.0.changed()).await {
            Ok(Ok(())) | Err(_) => {}
            // The catalog is gone: only the timeout is left to wait for.
            Ok(Err(_)) => tokio::time::sleep(timeout).await,
        }
    }
}

impl SqliteCatalog {
    /// Opens (creating if needed) the catalog at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL never corrupts and survives a process crash; only an OS crash may lose the
            // last transactions, which the pending-document protocol tolerates.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
        Ok(Self { pool, signals: QueueSignals::new() })
    }

    /// Opens an existing catalog for reading only (no migrations, no writes), e.g. for `lore status`
    /// while another process ingests.
    pub async fn open_read_only(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .read_only(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new().max_connections(2).connect_with(options).await?;
        Ok(Self { pool, signals: QueueSignals::new() })
    }

    async fn announce(&self, wake: Wake) {
        self.signals.change.send_modify(|n| *n += 1);
        if wake == Wake::Work {
            self.signals.work.send_modify(|n| *n += 1);
        }
    }

    async fn open_waiter(&self, wake: Wake) -> Result<Box<dyn QueueWaiter>> {
        Ok(Box::new(SignalWaiter(self.signals.sender(wake).subscribe())))
    }
}

impl_sql_catalog!(SqliteCatalog, sqlx::SqliteConnection);
crate::accounts::sql::impl_sql_accounts!(SqliteCatalog);
crate::audit::sql::impl_sql_audit!(SqliteCatalog);
crate::conversations::sql::impl_sql_conversations!(SqliteCatalog);
// SQLite serialises writers, so a claim's single UPDATE needs no row locks.
impl_sql_queue!(SqliteCatalog, "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)", "");
