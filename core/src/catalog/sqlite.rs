//! The embedded catalog: one SQLite file in WAL mode, so readers (`lore status`, searches) never wait
//! for the writer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, SqlitePool};

use super::*;
use crate::types::{now_ms, Chunk, ChunkId, DocumentId};

/// SQLite allows 32,766 bound variables per statement; chunk rows bind 9 each.
const CHUNK_ROWS_PER_INSERT: usize = 1_000;

#[derive(Debug, Clone)]
pub struct SqliteCatalog {
    pool: SqlitePool,
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
        Ok(Self { pool })
    }

    /// Opens an existing catalog for reading only (no migrations, no writes), e.g. for `lore status`
    /// while another process ingests.
    pub async fn open_read_only(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .read_only(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new().max_connections(2).connect_with(options).await?;
        Ok(Self { pool })
    }
}

fn acl_json(acl: &[String]) -> String {
    serde_json::to_string(acl).expect("a list of strings serialises")
}

fn parse_acl(json: &str) -> Result<Vec<String>> {
    serde_json::from_str(json).map_err(|e| CatalogError::Corrupt(format!("source acl {json:?}: {e}")))
}

fn parse_status(s: &str) -> Result<DocumentStatus> {
    DocumentStatus::parse(s).ok_or_else(|| CatalogError::Corrupt(format!("unknown document status {s:?}")))
}

fn source_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<SourceRecord> {
    Ok(SourceRecord {
        id: SourceId(row.try_get("id")?),
        name: row.try_get("name")?,
        root: PathBuf::from(row.try_get::<String, _>("root")?),
        acl: parse_acl(&row.try_get::<String, _>("acl")?)?,
        last_synced_ms: row.try_get("last_synced_ms")?,
    })
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(",")
}

/// Runs `statement`, which ends in `id IN`, for every id: 500 bound at a time (SQLite's limit on bound
/// variables is far above), inside the caller's transaction.
async fn execute_for_ids(tx: &mut sqlx::SqliteConnection, statement: &str, ids: &[DocumentId]) -> Result<()> {
    for batch in ids.chunks(500) {
        let sql = format!("{statement} ({})", placeholders(batch.len()));
        let mut query = sqlx::query(&sql);
        for id in batch {
            query = query.bind(id.0);
        }
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

#[async_trait]
impl Catalog for SqliteCatalog {
    async fn ensure_source(&self, name: &str, root: &Path, acl: &[String]) -> Result<SourceRecord> {
        let root_str = root.to_string_lossy().to_string();
        if let Some(existing) = self.source_by_name(name).await? {
            if existing.root != root {
                return Err(CatalogError::SourceRootConflict { name: name.to_string(), existing: existing.root });
            }
            return Ok(existing);
        }
        let row = sqlx::query(
            "INSERT INTO sources (name, root, acl, created_ms) VALUES (?, ?, ?, ?) \
             RETURNING id, name, root, acl, last_synced_ms",
        )
        .bind(name)
        .bind(root_str)
        .bind(acl_json(acl))
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        source_from_row(&row)
    }

    async fn begin_relabel(&self, source: SourceId, acl: &[String]) -> Result<Vec<DocumentId>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE sources SET acl = ? WHERE id = ?")
            .bind(acl_json(acl))
            .bind(source.0)
            .execute(&mut *tx)
            .await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE documents SET status = 'pending' WHERE source_id = ? AND status = 'indexed' RETURNING id",
        )
        .bind(source.0)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut ids: Vec<DocumentId> = ids.into_iter().map(DocumentId).collect();
        ids.sort();
        Ok(ids)
    }

    async fn finish_relabel(&self, documents: &[DocumentId]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        execute_for_ids(
            &mut tx,
            "UPDATE documents SET status = 'indexed' WHERE status = 'pending' AND id IN",
            documents,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn document_acls(&self) -> Result<BTreeMap<DocumentId, Vec<String>>> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT d.id, s.acl FROM documents d JOIN sources s ON s.id = d.source_id WHERE d.status = 'indexed'",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|(id, acl)| Ok((DocumentId(id), parse_acl(&acl)?))).collect()
    }

    async fn sources(&self) -> Result<Vec<SourceRecord>> {
        let rows = sqlx::query("SELECT id, name, root, acl, last_synced_ms FROM sources ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(source_from_row).collect()
    }

    async fn source_by_name(&self, name: &str) -> Result<Option<SourceRecord>> {
        let row = sqlx::query("SELECT id, name, root, acl, last_synced_ms FROM sources WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(source_from_row).transpose()
    }

    async fn documents(&self, source: SourceId) -> Result<Vec<DocumentState>> {
        let rows = sqlx::query(
            "SELECT id, path, size_bytes, modified_ms, content_hash, status, error \
             FROM documents WHERE source_id = ?",
        )
        .bind(source.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DocumentState {
                    id: DocumentId(row.try_get("id")?),
                    path: row.try_get("path")?,
                    size_bytes: row.try_get::<i64, _>("size_bytes")? as u64,
                    modified_ms: row.try_get("modified_ms")?,
                    content_hash: row.try_get("content_hash")?,
                    status: parse_status(&row.try_get::<String, _>("status")?)?,
                    error: row.try_get("error")?,
                })
            })
            .collect()
    }

    async fn begin_documents(&self, source: SourceId, files: &[FileFacts]) -> Result<Vec<DocumentId>> {
        let mut tx = self.pool.begin().await?;
        let mut ids = Vec::with_capacity(files.len());
        for file in files {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO documents (source_id, path, kind, title, size_bytes, modified_ms, content_hash, status) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, 'pending') \
                 ON CONFLICT (source_id, path) DO UPDATE SET kind = excluded.kind, \
                   size_bytes = excluded.size_bytes, modified_ms = excluded.modified_ms, \
                   content_hash = excluded.content_hash, status = 'pending' \
                 RETURNING id",
            )
            .bind(source.0)
            .bind(&file.path)
            .bind(file.kind.as_str())
            .bind(&file.path)
            .bind(file.size_bytes as i64)
            .bind(file.modified_ms)
            .bind(&file.content_hash)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(DocumentId(id));
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn complete_documents(&self, documents: &[CompletedDocument]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        for doc in documents {
            sqlx::query("DELETE FROM chunks WHERE document_id = ?").bind(doc.id.0).execute(&mut *tx).await?;
            for rows in doc.chunks.chunks(CHUNK_ROWS_PER_INSERT) {
                let mut insert = QueryBuilder::new(
                    "INSERT INTO chunks (id, document_id, ordinal, page, heading, start_char, end_char, tokens, text) ",
                );
                insert.push_values(rows, |mut b, c| {
                    b.push_bind(c.id.0 as i64)
                        .push_bind(doc.id.0)
                        .push_bind(c.ordinal as i64)
                        .push_bind(c.page.map(i64::from))
                        .push_bind(c.heading.as_deref())
                        .push_bind(c.start as i64)
                        .push_bind(c.end as i64)
                        .push_bind(c.tokens as i64)
                        .push_bind(c.text.as_str());
                });
                insert.build().execute(&mut *tx).await?;
            }
            sqlx::query(
                "INSERT INTO document_texts (document_id, text, page_starts) VALUES (?, ?, ?) \
                 ON CONFLICT (document_id) DO UPDATE SET text = excluded.text, page_starts = excluded.page_starts",
            )
            .bind(doc.id.0)
            .bind(&doc.text)
            .bind(serde_json::to_string(&doc.page_starts).expect("offsets serialise"))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE documents SET status = 'indexed', error = NULL, title = ?, pages = ?, \
                 chunk_count = ?, indexed_ms = ? WHERE id = ?",
            )
            .bind(&doc.title)
            .bind(doc.pages.map(i64::from))
            .bind(doc.chunks.len() as i64)
            .bind(now)
            .bind(doc.id.0)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record_failures(&self, source: SourceId, failures: &[FailedFile]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for failure in failures {
            let f = &failure.facts;
            // An indexed document keeps its status (and its chunks); a new or failed one takes the failure.
            sqlx::query(
                "INSERT INTO documents (source_id, path, kind, title, size_bytes, modified_ms, content_hash, status, error) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (source_id, path) DO UPDATE SET size_bytes = excluded.size_bytes, \
                   modified_ms = excluded.modified_ms, content_hash = excluded.content_hash, \
                   error = excluded.error, \
                   status = CASE WHEN documents.status = 'indexed' THEN 'indexed' ELSE excluded.status END, \
                   title = CASE WHEN documents.status = 'indexed' THEN documents.title ELSE excluded.title END",
            )
            .bind(source.0)
            .bind(&f.path)
            .bind(f.kind.as_str())
            .bind(&failure.title)
            .bind(f.size_bytes as i64)
            .bind(f.modified_ms)
            .bind(&f.content_hash)
            .bind(failure.status.as_str())
            .bind(&failure.error)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn touch_documents(&self, touched: &[(DocumentId, i64)]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (id, modified_ms) in touched {
            sqlx::query("UPDATE documents SET modified_ms = ? WHERE id = ?")
                .bind(modified_ms)
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn mark_pending(&self, ids: &[DocumentId]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        execute_for_ids(&mut tx, "UPDATE documents SET status = 'pending' WHERE id IN", ids).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_documents(&self, ids: &[DocumentId]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        execute_for_ids(&mut tx, "DELETE FROM documents WHERE id IN", ids).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn pending_documents(&self) -> Result<Vec<DocumentId>> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM documents WHERE status = 'pending' ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(ids.into_iter().map(DocumentId).collect())
    }

    async fn start_run(&self, source: SourceId) -> Result<RunId> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO ingest_runs (source_id, started_ms, status) VALUES (?, ?, 'running') RETURNING id",
        )
        .bind(source.0)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(RunId(id))
    }

    async fn finish_run(&self, run: RunId, counts: &RunCounts, outcome: RunOutcome, error: Option<&str>) -> Result<()> {
        let status = match outcome {
            RunOutcome::Completed => "completed",
            RunOutcome::Interrupted => "interrupted",
            RunOutcome::Failed => "failed",
        };
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let source: Option<i64> = sqlx::query_scalar(
            "UPDATE ingest_runs SET finished_ms = ?, status = ?, scanned = ?, indexed = ?, unchanged = ?, \
             removed = ?, failed = ?, chunks = ?, error = ? WHERE id = ? RETURNING source_id",
        )
        .bind(now)
        .bind(status)
        .bind(counts.scanned as i64)
        .bind(counts.indexed as i64)
        .bind(counts.unchanged as i64)
        .bind(counts.removed as i64)
        .bind(counts.failed as i64)
        .bind(counts.chunks as i64)
        .bind(error)
        .bind(run.0)
        .fetch_one(&mut *tx)
        .await?;
        if let (Some(source), RunOutcome::Completed) = (source, outcome) {
            sqlx::query("UPDATE sources SET last_synced_ms = ? WHERE id = ?")
                .bind(now)
                .bind(source)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn interrupt_stale_runs(&self) -> Result<u64> {
        let result = sqlx::query("UPDATE ingest_runs SET status = 'interrupted' WHERE status = 'running'")
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    async fn status(&self) -> Result<CatalogStatus> {
        let rows = sqlx::query(
            "SELECT s.name, s.root, s.last_synced_ms, \
               COUNT(d.id) FILTER (WHERE d.status = 'indexed') AS documents, \
               COALESCE(SUM(d.chunk_count) FILTER (WHERE d.status = 'indexed'), 0) AS chunks, \
               COUNT(d.id) FILTER (WHERE d.status IN ('failed', 'no_text') OR d.error IS NOT NULL) AS failed \
             FROM sources s LEFT JOIN documents d ON d.source_id = s.id \
             GROUP BY s.id ORDER BY s.name",
        )
        .fetch_all(&self.pool)
        .await?;
        let sources = rows
            .iter()
            .map(|row| {
                Ok(SourceStatus {
                    name: row.try_get("name")?,
                    root: PathBuf::from(row.try_get::<String, _>("root")?),
                    documents: row.try_get::<i64, _>("documents")? as u64,
                    chunks: row.try_get::<i64, _>("chunks")? as u64,
                    failed: row.try_get::<i64, _>("failed")? as u64,
                    last_synced_ms: row.try_get("last_synced_ms")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let pending: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM documents WHERE status = 'pending'").fetch_one(&self.pool).await?;
        Ok(CatalogStatus { sources, pending: pending as u64 })
    }

    async fn failures(&self, source: Option<SourceId>) -> Result<Vec<FailureRecord>> {
        let rows = sqlx::query(
            "SELECT s.name, d.path, d.status, d.error FROM documents d JOIN sources s ON s.id = d.source_id \
             WHERE d.error IS NOT NULL AND (? IS NULL OR d.source_id = ?) ORDER BY s.name, d.path",
        )
        .bind(source.map(|s| s.0))
        .bind(source.map(|s| s.0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(FailureRecord {
                    source: row.try_get("name")?,
                    path: row.try_get("path")?,
                    status: parse_status(&row.try_get::<String, _>("status")?)?,
                    error: row.try_get("error")?,
                })
            })
            .collect()
    }

    async fn chunk_counts(&self) -> Result<BTreeMap<DocumentId, u64>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT document_id, COUNT(*) FROM chunks GROUP BY document_id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(doc, n)| (DocumentId(doc), n as u64)).collect())
    }

    async fn miscounted_documents(&self) -> Result<Vec<DocumentId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT d.id FROM documents d LEFT JOIN chunks c ON c.document_id = d.id \
             GROUP BY d.id HAVING COUNT(c.id) != CASE WHEN d.status = 'indexed' THEN d.chunk_count ELSE 0 END",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(DocumentId).collect())
    }

    async fn chunks_of(&self, document: DocumentId) -> Result<Vec<Chunk>> {
        let rows = sqlx::query(
            "SELECT id, ordinal, page, heading, start_char, end_char, tokens, text FROM chunks \
             WHERE document_id = ? ORDER BY ordinal",
        )
        .bind(document.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Chunk {
                    id: ChunkId(row.try_get::<i64, _>("id")? as u64),
                    ordinal: row.try_get::<i64, _>("ordinal")? as u32,
                    text: row.try_get("text")?,
                    page: row.try_get::<Option<i64>, _>("page")?.map(|p| p as u32),
                    heading: row.try_get("heading")?,
                    start: row.try_get::<i64, _>("start_char")? as usize,
                    end: row.try_get::<i64, _>("end_char")? as usize,
                    tokens: row.try_get::<i64, _>("tokens")? as u32,
                })
            })
            .collect()
    }

    async fn document_text(&self, document: DocumentId) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT text FROM document_texts WHERE document_id = ?")
            .bind(document.0)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn document(&self, document: DocumentId) -> Result<Option<DocumentRecord>> {
        let row = sqlx::query(
            "SELECT d.id, s.name, s.root, s.acl, d.path, d.kind, d.title, d.pages, d.size_bytes, d.modified_ms, \
               d.status, d.error, d.chunk_count, t.page_starts \
             FROM documents d JOIN sources s ON s.id = d.source_id \
             LEFT JOIN document_texts t ON t.document_id = d.id WHERE d.id = ?",
        )
        .bind(document.0)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let kind: String = row.try_get("kind")?;
        let page_starts: Option<String> = row.try_get("page_starts")?;
        let page_starts = match page_starts {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| CatalogError::Corrupt(format!("page starts of document {}: {e}", document.0)))?,
            None => Vec::new(),
        };
        Ok(Some(DocumentRecord {
            id: document,
            source: row.try_get("name")?,
            source_root: PathBuf::from(row.try_get::<String, _>("root")?),
            acl: parse_acl(&row.try_get::<String, _>("acl")?)?,
            path: row.try_get("path")?,
            kind: DocumentKind::parse(&kind)
                .ok_or_else(|| CatalogError::Corrupt(format!("unknown document kind {kind:?}")))?,
            title: row.try_get("title")?,
            pages: row.try_get::<Option<i64>, _>("pages")?.map(|p| p as u32),
            size_bytes: row.try_get::<i64, _>("size_bytes")? as u64,
            modified_ms: row.try_get("modified_ms")?,
            status: parse_status(&row.try_get::<String, _>("status")?)?,
            error: row.try_get("error")?,
            chunk_count: row.try_get::<i64, _>("chunk_count")? as u64,
            page_starts,
        }))
    }

    async fn delete_source(&self, source: SourceId) -> Result<()> {
        sqlx::query("DELETE FROM sources WHERE id = ?").bind(source.0).execute(&self.pool).await?;
        Ok(())
    }
}
