//! The audit log's SQL, written once for both engines like the catalog's (`catalog/sql.rs`).

use super::{AuditAction, AuditEvent, AuditRecord, Result};
use crate::accounts::UserId;
use crate::catalog::CatalogError;

/// Events appended per statement (6 bound values each).
pub(crate) const EVENTS_PER_INSERT: usize = 500;

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: i64,
    at_ms: i64,
    user_id: Option<i64>,
    actor: String,
    client: Option<String>,
    action: String,
    subject: String,
}

impl AuditRow {
    pub(crate) fn into_record(self) -> Result<AuditRecord> {
        let action = AuditAction::parse(&self.action)
            .ok_or_else(|| CatalogError::Corrupt(format!("unknown audit action {:?}", self.action)))?;
        Ok(AuditRecord {
            id: self.id,
            event: AuditEvent {
                at_ms: self.at_ms,
                user: self.user_id.map(UserId),
                actor: self.actor,
                client: self.client,
                action,
                subject: self.subject,
            },
        })
    }
}

/// Implements [`super::AuditLog`] for a catalog type with a `pool` field.
macro_rules! impl_sql_audit {
    ($catalog:ty) => {
        #[async_trait::async_trait]
        impl $crate::audit::AuditLog for $catalog {
            async fn append(&self, events: &[$crate::audit::AuditEvent]) -> $crate::audit::Result<()> {
                let mut tx = self.pool.begin().await?;
                for batch in events.chunks($crate::audit::sql::EVENTS_PER_INSERT) {
                    let rows: Vec<String> = (0..batch.len())
                        .map(|i| {
                            let n = i * 6;
                            format!("(${}, ${}, ${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4, n + 5, n + 6)
                        })
                        .collect();
                    let sql = format!(
                        "INSERT INTO audit_events (at_ms, user_id, actor, client, action, subject) VALUES {}",
                        rows.join(", ")
                    );
                    let mut query = sqlx::query(&sql);
                    for event in batch {
                        query = query
                            .bind(event.at_ms)
                            .bind(event.user.map(|u| u.0))
                            .bind($crate::catalog::storable(&event.actor).into_owned())
                            .bind(event.client.clone())
                            .bind(event.action.as_str())
                            .bind($crate::catalog::storable(&event.subject).into_owned());
                    }
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn events(
                &self,
                query: &$crate::audit::AuditQuery,
            ) -> $crate::audit::Result<Vec<$crate::audit::AuditRecord>> {
                use $crate::audit::sql::AuditRow;
                // Absent filters are bound as values that match everything, so one statement serves all.
                let rows: Vec<AuditRow> = sqlx::query_as(
                    "SELECT id, at_ms, user_id, actor, client, action, subject FROM audit_events \
                     WHERE at_ms >= $1 AND at_ms < $2 AND ($3 = 0 OR user_id = $4) AND ($5 = '' OR action = $5) \
                     ORDER BY at_ms DESC, id DESC LIMIT $6",
                )
                .bind(query.since_ms.unwrap_or(i64::MIN))
                .bind(query.until_ms.unwrap_or(i64::MAX))
                .bind(i64::from(query.user.is_some()))
                .bind(query.user.map_or(0, |u| u.0))
                .bind(query.action.map_or("", |a| a.as_str()))
                .bind(query.limit.min($crate::audit::MAX_EVENTS) as i64)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(AuditRow::into_record).collect()
            }

            async fn purge_before(&self, before_ms: i64) -> $crate::audit::Result<u64> {
                let done =
                    sqlx::query("DELETE FROM audit_events WHERE at_ms < $1").bind(before_ms).execute(&self.pool).await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use impl_sql_audit;
