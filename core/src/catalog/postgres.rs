//! The catalog on PostgreSQL, for installations where several processes (web replicas, ingestion
//! workers on other machines) share one system of record. Same tables and SQL as the SQLite catalog
//! (`sql.rs`); only connecting and migrating are its own.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::PgPool;

use super::sql::impl_sql_catalog;
use super::*;
use crate::queue::{impl_sql_queue, QueueWaiter, Wake};
use crate::types::{now_ms, Chunk, DocumentId};

/// How long opening the catalog waits for the server before it says it is unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct PostgresCatalog {
    pool: PgPool,
}

impl PostgresCatalog {
    /// Connects to `url` (`postgres://user:password@host:port/database`) with at most `max_connections`
    /// and brings the schema up to date. Several processes may start at once: sqlx holds a PostgreSQL
    /// advisory lock while it migrates, so one applies the migrations and the others wait for it.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| CatalogError::Unreachable { url: redact(url), reason: e.to_string() })?
            .application_name("lore");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| CatalogError::Unreachable { url: redact(url), reason: e.to_string() })?;
        sqlx::migrate!("../migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    async fn announce(&self, wake: Wake) {
        for channel in channels_for(wake) {
            if let Err(error) = sqlx::query("SELECT pg_notify($1, '')").bind(channel).execute(&self.pool).await {
                // Waiters poll as well: a lost notification delays them, it loses nothing.
                tracing::debug!(%error, channel, "job queue notification not sent");
            }
        }
    }

    async fn open_waiter(&self, wake: Wake) -> Result<Box<dyn QueueWaiter>> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(channel(wake)).await?;
        Ok(Box::new(NotifyWaiter(listener)))
    }
}

fn channel(wake: Wake) -> &'static str {
    match wake {
        Wake::Work => "lore_jobs_work",
        Wake::Change => "lore_jobs_change",
    }
}

/// New work is a change too.
fn channels_for(wake: Wake) -> &'static [&'static str] {
    match wake {
        Wake::Work => &["lore_jobs_work", "lore_jobs_change"],
        Wake::Change => &["lore_jobs_change"],
    }
}

struct NotifyWaiter(PgListener);

#[async_trait::async_trait]
impl QueueWaiter for NotifyWaiter {
    async fn wait(&mut self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        match tokio::time::timeout_at(deadline, self.0.recv()).await {
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(error)) => {
                // The listener reconnects at its next `recv`; until then this is a poll.
                tracing::debug!(%error, "job queue listener lost its connection");
                tokio::time::sleep_until(deadline).await;
            }
        }
    }
}

/// A database of its own on the server `url` points at (same role), for a benchmark that must not
/// touch the shared catalog: created empty, its URL returned; [`drop_database`] removes it. `name` is
/// lowercase letters, digits and underscores.
pub async fn create_database(url: &str, name: &str) -> Result<String> {
    admin_statement(url, name, DatabaseStatement::Create).await?;
    Ok(with_database(url, name))
}

/// Drops a database [`create_database`] made (and the connections still open to it).
pub async fn drop_database(url: &str, name: &str) -> Result<()> {
    admin_statement(url, name, DatabaseStatement::Drop).await
}

enum DatabaseStatement {
    Create,
    Drop,
}

async fn admin_statement(url: &str, name: &str, statement: DatabaseStatement) -> Result<()> {
    use sqlx::Connection;
    let plain = !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !plain {
        return Err(CatalogError::InvalidDatabaseName(name.to_string()));
    }
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| CatalogError::Unreachable { url: redact(url), reason: e.to_string() })?;
    let mut connection = sqlx::PgConnection::connect_with(&options)
        .await
        .map_err(|e| CatalogError::Unreachable { url: redact(url), reason: e.to_string() })?;
    // A name cannot be a bound parameter; it was checked to be a plain identifier above.
    let sql = match statement {
        DatabaseStatement::Create => format!("CREATE DATABASE \"{name}\""),
        DatabaseStatement::Drop => format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    };
    sqlx::query(&sql).execute(&mut connection).await?;
    connection.close().await?;
    Ok(())
}

/// `url` with its database replaced by `name` (user, password, host and parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, parameters) = url.split_once('?').map_or((url, None), |(base, query)| (base, Some(query)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match parameters {
        Some(parameters) => format!("{base}/{name}?{parameters}"),
        None => format!("{base}/{name}"),
    }
}

/// `url` without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, tail) = rest.split_once('/').map_or((rest, None), |(a, t)| (a, Some(t)));
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{user_info}@{host}"),
        },
        None => authority.to_string(),
    };
    match tail {
        Some(tail) => format!("{scheme}://{authority}/{}", tail.split_once('?').map_or(tail, |(path, _)| path)),
        None => format!("{scheme}://{authority}"),
    }
}

impl_sql_catalog!(PostgresCatalog, sqlx::PgConnection);
crate::accounts::sql::impl_sql_accounts!(PostgresCatalog);
crate::audit::sql::impl_sql_audit!(PostgresCatalog);
crate::conversations::sql::impl_sql_conversations!(PostgresCatalog);
// Claims skip rows another claim has locked instead of waiting for it.
impl_sql_queue!(
    PostgresCatalog,
    "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    "FOR UPDATE SKIP LOCKED"
);

#[cfg(test)]
mod tests {
    use super::{redact, with_database};

    #[test]
    fn another_database_on_the_same_server_keeps_everything_but_the_name() {
        assert_eq!(with_database("postgres://lore:pw@db:5432/lore", "bench_1"), "postgres://lore:pw@db:5432/bench_1");
        assert_eq!(
            with_database("postgres://lore@db/lore?sslmode=require", "bench_1"),
            "postgres://lore@db/bench_1?sslmode=require"
        );
        assert_eq!(with_database("postgresql://db:5432", "bench_1"), "postgresql://db:5432/bench_1");
    }

    #[test]
    fn passwords_and_parameters_never_reach_messages() {
        assert_eq!(redact("postgres://lore:s3cret@db:5432/lore"), "postgres://lore:***@db:5432/lore");
        assert_eq!(redact("postgres://lore@db/lore?password=s3cret"), "postgres://lore@db/lore");
        assert_eq!(redact("postgres://db"), "postgres://db");
        assert_eq!(redact("not a url"), "not a url");
    }
}
