//! The catalog's SQL, written once for both engines. SQLite and PostgreSQL accept the same statements
//! here (numbered parameters, `RETURNING`, `ON CONFLICT`, `FILTER`, casts to `BIGINT`), and the rows
//! decode through the same `FromRow` types (`rows.rs`). sqlx's pools are distinct types without a
//! common trait to write the methods against, so [`impl_sql_catalog!`] stamps the one implementation
//! onto each engine's catalog type; whatever differs between the engines (connecting, migrations, the
//! job queue's claim) lives in that engine's own module.

/// SQLite allows 32,766 bound variables per statement and PostgreSQL 65,535; chunk rows bind 9 each.
pub(super) const CHUNK_ROWS_PER_INSERT: usize = 1_000;
/// Ids bound per `id IN (...)` statement.
pub(super) const IDS_PER_STATEMENT: usize = 500;

/// Implements [`super::Catalog`] for a type with a `pool` field of one sqlx engine.
macro_rules! impl_sql_catalog {
    ($catalog:ty, $connection:ty) => {
        impl $catalog {
            /// Runs `statement`, which ends in `id IN`, for every id, a batch at a time, inside the
            /// caller's transaction.
            async fn execute_for_ids(tx: &mut $connection, statement: &str, ids: &[DocumentId]) -> Result<()> {
                for batch in ids.chunks($crate::catalog::sql::IDS_PER_STATEMENT) {
                    let sql = format!("{statement} ({})", rows::placeholders(batch.len()));
                    let mut query = sqlx::query(&sql);
                    for id in batch {
                        query = query.bind(id.0);
                    }
                    query.execute(&mut *tx).await?;
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl Catalog for $catalog {
            async fn ensure_source(&self, name: &str, root: &std::path::Path, acl: &[String]) -> Result<SourceRecord> {
                if let Some(existing) = self.source_by_name(name).await? {
                    if existing.root != root {
                        return Err(CatalogError::SourceRootConflict {
                            name: name.to_string(),
                            existing: existing.root,
                        });
                    }
                    return Ok(existing);
                }
                let sql = format!(
                    "INSERT INTO sources (name, root, acl, created_ms) VALUES ($1, $2, $3, $4) RETURNING {}",
                    rows::SourceRow::COLUMNS
                );
                let row: rows::SourceRow = sqlx::query_as(&sql)
                    .bind(name)
                    .bind(root.to_string_lossy().to_string())
                    .bind(rows::acl_json(acl))
                    .bind(now_ms())
                    .fetch_one(&self.pool)
                    .await?;
                row.into_record()
            }

            async fn set_source_acl(&self, source: SourceId, acl: &[String]) -> Result<()> {
                sqlx::query("UPDATE sources SET acl = $1 WHERE id = $2")
                    .bind(rows::acl_json(acl))
                    .bind(source.0)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn begin_relabel(&self, documents: &[(DocumentId, DocumentAcl)]) -> Result<Vec<DocumentId>> {
                let mut tx = self.pool.begin().await?;
                let mut marked = Vec::new();
                for (id, acl) in documents {
                    let principals = rows::acl_json(&acl.principals);
                    let file = acl.file.as_deref().map(|f| rows::storable(f).into_owned());
                    let page = rows::page_acl_json(acl);
                    let indexed: Option<i64> = sqlx::query_scalar(
                        "UPDATE documents SET acl = $1, acl_file = $2, page_acl = $3, status = 'pending' \
                         WHERE id = $4 AND status = 'indexed' RETURNING id",
                    )
                    .bind(&principals)
                    .bind(&file)
                    .bind(&page)
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                    match indexed {
                        Some(id) => marked.push(DocumentId(id)),
                        // Nothing indexed to relabel (a file that failed): the row only takes the ACL.
                        None => {
                            sqlx::query("UPDATE documents SET acl = $1, acl_file = $2, page_acl = $3 WHERE id = $4")
                                .bind(&principals)
                                .bind(&file)
                                .bind(&page)
                                .bind(id.0)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                }
                tx.commit().await?;
                marked.sort();
                Ok(marked)
            }

            async fn finish_relabel(&self, documents: &[DocumentId]) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                Self::execute_for_ids(
                    &mut tx,
                    "UPDATE documents SET status = 'indexed' WHERE status = 'pending' AND id IN",
                    documents,
                )
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn document_acls(&self) -> Result<BTreeMap<DocumentId, Vec<String>>> {
                let found: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT d.id, COALESCE(d.acl, s.acl) FROM documents d JOIN sources s ON s.id = d.source_id \
                     WHERE d.status = 'indexed'",
                )
                .fetch_all(&self.pool)
                .await?;
                found.iter().map(|(id, acl)| rows::document_acl(*id, acl)).collect()
            }

            async fn acl_counts(&self) -> Result<Vec<AclCount>> {
                let found: Vec<rows::AclCountRow> = sqlx::query_as(
                    "SELECT s.name, COALESCE(d.acl, s.acl) AS acl, \
                       COUNT(d.id) FILTER (WHERE d.status = 'indexed') AS documents, \
                       CAST(COALESCE(SUM(d.chunk_count) FILTER (WHERE d.status = 'indexed'), 0) AS BIGINT) AS chunks, \
                       COUNT(d.id) FILTER (WHERE d.status IN ('failed', 'no_text') OR d.error IS NOT NULL) AS failed \
                     FROM documents d JOIN sources s ON s.id = d.source_id \
                     GROUP BY s.name, COALESCE(d.acl, s.acl) ORDER BY s.name",
                )
                .fetch_all(&self.pool)
                .await?;
                found.into_iter().map(rows::AclCountRow::into_count).collect()
            }

            async fn sources(&self) -> Result<Vec<SourceRecord>> {
                let sql = format!("SELECT {} FROM sources ORDER BY name", rows::SourceRow::COLUMNS);
                let found: Vec<rows::SourceRow> = sqlx::query_as(&sql).fetch_all(&self.pool).await?;
                found.into_iter().map(rows::SourceRow::into_record).collect()
            }

            async fn source_by_name(&self, name: &str) -> Result<Option<SourceRecord>> {
                let sql = format!("SELECT {} FROM sources WHERE name = $1", rows::SourceRow::COLUMNS);
                let found: Option<rows::SourceRow> =
                    sqlx::query_as(&sql).bind(name).fetch_optional(&self.pool).await?;
                found.map(rows::SourceRow::into_record).transpose()
            }

            async fn documents(&self, source: SourceId) -> Result<Vec<DocumentState>> {
                let sql = format!(
                    "SELECT {} FROM documents d JOIN sources s ON s.id = d.source_id WHERE d.source_id = $1",
                    rows::DocumentStateRow::COLUMNS
                );
                let found: Vec<rows::DocumentStateRow> = sqlx::query_as(&sql)
                .bind(source.0)
                .fetch_all(&self.pool)
                .await?;
                found.into_iter().map(rows::DocumentStateRow::into_state).collect()
            }

            async fn begin_documents(&self, source: SourceId, files: &[FileFacts]) -> Result<Vec<DocumentId>> {
                let mut tx = self.pool.begin().await?;
                let mut ids = Vec::with_capacity(files.len());
                for file in files {
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO documents (source_id, path, kind, title, size_bytes, modified_ms, content_hash, \
                           status, acl, acl_file, page_acl) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10) \
                         ON CONFLICT (source_id, path) DO UPDATE SET kind = excluded.kind, \
                           size_bytes = excluded.size_bytes, modified_ms = excluded.modified_ms, \
                           content_hash = excluded.content_hash, status = 'pending', acl = excluded.acl, \
                           acl_file = excluded.acl_file, page_acl = excluded.page_acl \
                         RETURNING id",
                    )
                    .bind(source.0)
                    .bind(rows::storable(&file.path))
                    .bind(file.kind.as_str())
                    .bind(rows::storable(&file.path))
                    .bind(file.size_bytes as i64)
                    .bind(file.modified_ms)
                    .bind(&file.content_hash)
                    .bind(rows::acl_json(&file.acl.principals))
                    .bind(file.acl.file.as_deref().map(|f| rows::storable(f).into_owned()))
                    .bind(rows::page_acl_json(&file.acl))
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
                    sqlx::query("DELETE FROM chunks WHERE document_id = $1").bind(doc.id.0).execute(&mut *tx).await?;
                    for batch in doc.chunks.chunks($crate::catalog::sql::CHUNK_ROWS_PER_INSERT) {
                        let mut insert = sqlx::QueryBuilder::new(
                            "INSERT INTO chunks (id, document_id, ordinal, page, heading, start_char, end_char, tokens, \
                             text) ",
                        );
                        insert.push_values(batch, |mut b, c| {
                            b.push_bind(c.id.0 as i64)
                                .push_bind(doc.id.0)
                                .push_bind(c.ordinal as i64)
                                .push_bind(c.page.map(i64::from))
                                .push_bind(c.heading.as_deref().map(|h| rows::storable(h).into_owned()))
                                .push_bind(c.start as i64)
                                .push_bind(c.end as i64)
                                .push_bind(c.tokens as i64)
                                .push_bind(rows::storable(&c.text).into_owned());
                        });
                        insert.build().execute(&mut *tx).await?;
                    }
                    sqlx::query(
                        "INSERT INTO document_texts (document_id, text, page_starts) VALUES ($1, $2, $3) \
                         ON CONFLICT (document_id) DO UPDATE SET text = excluded.text, \
                           page_starts = excluded.page_starts",
                    )
                    .bind(doc.id.0)
                    .bind(rows::storable(&doc.text))
                    .bind(serde_json::to_string(&doc.page_starts).expect("offsets serialise"))
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE documents SET status = 'indexed', error = NULL, title = $1, pages = $2, \
                         chunk_count = $3, indexed_ms = $4 WHERE id = $5",
                    )
                    .bind(rows::storable(&doc.title))
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
                    // An indexed document keeps its status (and its chunks); a new or failed one takes the
                    // failure.
                    sqlx::query(
                        "INSERT INTO documents (source_id, path, kind, title, size_bytes, modified_ms, content_hash, \
                           status, error, acl, acl_file, page_acl) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                         ON CONFLICT (source_id, path) DO UPDATE SET size_bytes = excluded.size_bytes, \
                           modified_ms = excluded.modified_ms, content_hash = excluded.content_hash, \
                           error = excluded.error, \
                           acl = CASE WHEN documents.status = 'indexed' THEN documents.acl ELSE excluded.acl END, \
                           acl_file = CASE WHEN documents.status = 'indexed' THEN documents.acl_file \
                             ELSE excluded.acl_file END, \
                           page_acl = CASE WHEN documents.status = 'indexed' THEN documents.page_acl \
                             ELSE excluded.page_acl END, \
                           status = CASE WHEN documents.status = 'indexed' THEN 'indexed' ELSE excluded.status END, \
                           title = CASE WHEN documents.status = 'indexed' THEN documents.title \
                             ELSE excluded.title END",
                    )
                    .bind(source.0)
                    .bind(rows::storable(&f.path))
                    .bind(f.kind.as_str())
                    .bind(rows::storable(&failure.title))
                    .bind(f.size_bytes as i64)
                    .bind(f.modified_ms)
                    .bind(&f.content_hash)
                    .bind(failure.status.as_str())
                    .bind(rows::storable(&failure.error))
                    .bind(rows::acl_json(&f.acl.principals))
                    .bind(f.acl.file.as_deref().map(|f| rows::storable(f).into_owned()))
                    .bind(rows::page_acl_json(&f.acl))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn touch_documents(&self, touched: &[(DocumentId, i64)]) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                for (id, modified_ms) in touched {
                    sqlx::query("UPDATE documents SET modified_ms = $1 WHERE id = $2")
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
                Self::execute_for_ids(&mut tx, "UPDATE documents SET status = 'pending' WHERE id IN", ids).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_documents(&self, ids: &[DocumentId]) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                Self::execute_for_ids(&mut tx, "DELETE FROM documents WHERE id IN", ids).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn pending_documents(&self) -> Result<Vec<DocumentId>> {
                let ids: Vec<i64> =
                    sqlx::query_scalar("SELECT id FROM documents WHERE status = 'pending' ORDER BY id")
                        .fetch_all(&self.pool)
                        .await?;
                Ok(ids.into_iter().map(DocumentId).collect())
            }

            async fn pending_documents_of(&self, source: SourceId) -> Result<Vec<DocumentId>> {
                let ids: Vec<i64> = sqlx::query_scalar(
                    "SELECT id FROM documents WHERE status = 'pending' AND source_id = $1 ORDER BY id",
                )
                .bind(source.0)
                .fetch_all(&self.pool)
                .await?;
                Ok(ids.into_iter().map(DocumentId).collect())
            }

            async fn start_run(&self, source: SourceId) -> Result<RunId> {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO ingest_runs (source_id, started_ms, status) VALUES ($1, $2, 'running') RETURNING id",
                )
                .bind(source.0)
                .bind(now_ms())
                .fetch_one(&self.pool)
                .await?;
                Ok(RunId(id))
            }

            async fn finish_run(
                &self,
                run: RunId,
                counts: &RunCounts,
                outcome: RunOutcome,
                error: Option<&str>,
            ) -> Result<()> {
                let status = match outcome {
                    RunOutcome::Completed => "completed",
                    RunOutcome::Interrupted => "interrupted",
                    RunOutcome::Failed => "failed",
                };
                let now = now_ms();
                let mut tx = self.pool.begin().await?;
                let source: Option<i64> = sqlx::query_scalar(
                    "UPDATE ingest_runs SET finished_ms = $1, status = $2, scanned = $3, indexed = $4, \
                     unchanged = $5, removed = $6, failed = $7, chunks = $8, error = $9 WHERE id = $10 \
                     RETURNING source_id",
                )
                .bind(now)
                .bind(status)
                .bind(counts.scanned as i64)
                .bind(counts.indexed as i64)
                .bind(counts.unchanged as i64)
                .bind(counts.removed as i64)
                .bind(counts.failed as i64)
                .bind(counts.chunks as i64)
                .bind(error.map(rows::storable))
                .bind(run.0)
                .fetch_one(&mut *tx)
                .await?;
                if let (Some(source), RunOutcome::Completed) = (source, outcome) {
                    sqlx::query("UPDATE sources SET last_synced_ms = $1 WHERE id = $2")
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

            async fn interrupt_stale_runs_of(&self, source: SourceId) -> Result<u64> {
                let result = sqlx::query(
                    "UPDATE ingest_runs SET status = 'interrupted' WHERE status = 'running' AND source_id = $1",
                )
                .bind(source.0)
                .execute(&self.pool)
                .await?;
                Ok(result.rows_affected())
            }

            async fn status(&self) -> Result<CatalogStatus> {
                let found: Vec<rows::SourceStatusRow> = sqlx::query_as(
                    "SELECT s.name, s.root, s.last_synced_ms, \
                       COUNT(d.id) FILTER (WHERE d.status = 'indexed') AS documents, \
                       CAST(COALESCE(SUM(d.chunk_count) FILTER (WHERE d.status = 'indexed'), 0) AS BIGINT) AS chunks, \
                       COUNT(d.id) FILTER (WHERE d.status IN ('failed', 'no_text') OR d.error IS NOT NULL) AS failed \
                     FROM sources s LEFT JOIN documents d ON d.source_id = s.id \
                     GROUP BY s.id ORDER BY s.name",
                )
                .fetch_all(&self.pool)
                .await?;
                let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM documents WHERE status = 'pending'")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(CatalogStatus {
                    sources: found.into_iter().map(rows::SourceStatusRow::into_status).collect(),
                    pending: pending as u64,
                })
            }

            async fn failures(&self, source: Option<SourceId>) -> Result<Vec<FailureRecord>> {
                let found: Vec<rows::FailureRow> = sqlx::query_as(
                    "SELECT s.name, d.path, d.status, d.error FROM documents d JOIN sources s ON s.id = d.source_id \
                     WHERE d.error IS NOT NULL AND ($1 IS NULL OR d.source_id = $1) ORDER BY s.name, d.path",
                )
                .bind(source.map(|s| s.0))
                .fetch_all(&self.pool)
                .await?;
                found.into_iter().map(rows::FailureRow::into_record).collect()
            }

            async fn chunk_counts(&self) -> Result<BTreeMap<DocumentId, u64>> {
                let found: Vec<(i64, i64)> =
                    sqlx::query_as("SELECT document_id, COUNT(*) FROM chunks GROUP BY document_id")
                        .fetch_all(&self.pool)
                        .await?;
                Ok(found.into_iter().map(|(doc, n)| (DocumentId(doc), n as u64)).collect())
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
                let found: Vec<rows::ChunkRow> = sqlx::query_as(
                    "SELECT id, ordinal, page, heading, start_char, end_char, tokens, text FROM chunks \
                     WHERE document_id = $1 ORDER BY ordinal",
                )
                .bind(document.0)
                .fetch_all(&self.pool)
                .await?;
                Ok(found.into_iter().map(rows::ChunkRow::into_chunk).collect())
            }

            async fn document_text(&self, document: DocumentId) -> Result<Option<String>> {
                Ok(sqlx::query_scalar("SELECT text FROM document_texts WHERE document_id = $1")
                    .bind(document.0)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn document(&self, document: DocumentId) -> Result<Option<DocumentRecord>> {
                let found: Option<rows::DocumentRow> = sqlx::query_as(
                    "SELECT d.id, s.name, s.root, COALESCE(d.acl, s.acl) AS acl, d.path, d.kind, d.title, d.pages, \
                       d.size_bytes, d.modified_ms, d.status, d.error, d.chunk_count, t.page_starts, d.acl_file, \
                       d.page_acl \
                     FROM documents d JOIN sources s ON s.id = d.source_id \
                     LEFT JOIN document_texts t ON t.document_id = d.id WHERE d.id = $1",
                )
                .bind(document.0)
                .fetch_optional(&self.pool)
                .await?;
                found.map(rows::DocumentRow::into_record).transpose()
            }

            async fn delete_source(&self, source: SourceId) -> Result<()> {
                sqlx::query("DELETE FROM sources WHERE id = $1").bind(source.0).execute(&self.pool).await?;
                Ok(())
            }
        }
    };
}

pub(super) use impl_sql_catalog;
