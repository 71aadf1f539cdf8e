//! The conversations' SQL, written once for both engines like the catalog's (`catalog/sql.rs`).

use super::{ConversationId, ConversationSummary, Result, Turn};
use crate::catalog::CatalogError;
use crate::types::DocumentId;

pub(crate) const SUMMARY_COLUMNS: &str = "c.id, c.title, c.created_ms, c.updated_ms, \
     (SELECT COUNT(*) FROM conversation_turns t WHERE t.conversation_id = c.id) AS turns";

#[derive(sqlx::FromRow)]
pub(crate) struct SummaryRow {
    id: i64,
    title: String,
    created_ms: i64,
    updated_ms: i64,
    turns: i64,
}

impl SummaryRow {
    pub(crate) fn into_summary(self) -> ConversationSummary {
        ConversationSummary {
            id: ConversationId(self.id),
            title: self.title,
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
            turns: self.turns as u64,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TurnRow {
    question: String,
    answer: String,
    documents: String,
    created_ms: i64,
}

impl TurnRow {
    pub(crate) fn into_turn(self) -> Result<Turn> {
        let documents: Vec<i64> = serde_json::from_str(&self.documents)
            .map_err(|e| CatalogError::Corrupt(format!("documents of a conversation turn: {e}")))?;
        Ok(Turn {
            question: self.question,
            answer: self.answer,
            documents: documents.into_iter().map(DocumentId).collect(),
            created_ms: self.created_ms,
        })
    }
}

pub(crate) fn documents_json(documents: &[DocumentId]) -> String {
    serde_json::to_string(&documents.iter().map(|d| d.0).collect::<Vec<_>>()).expect("numbers serialise")
}

/// Implements [`super::ConversationStore`] for a catalog type with a `pool` field.
macro_rules! impl_sql_conversations {
    ($catalog:ty) => {
        #[async_trait::async_trait]
        impl $crate::conversations::ConversationStore for $catalog {
            async fn start_conversation(
                &self,
                user: $crate::accounts::UserId,
                title: &str,
                now_ms: i64,
            ) -> $crate::conversations::Result<$crate::conversations::ConversationId> {
                let mut tx = self.pool.begin().await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO conversations (user_id, title, created_ms, updated_ms) VALUES ($1, $2, $3, $3) \
                     RETURNING id",
                )
                .bind(user.0)
                .bind($crate::catalog::storable(title).into_owned())
                .bind(now_ms)
                .fetch_one(&mut *tx)
                .await?;
                // Beyond the cap, the least recently continued go (their turns with them: ON DELETE CASCADE).
                sqlx::query(
                    "DELETE FROM conversations WHERE user_id = $1 AND id NOT IN (SELECT id FROM conversations \
                     WHERE user_id = $1 ORDER BY updated_ms DESC, id DESC LIMIT $2)",
                )
                .bind(user.0)
                .bind($crate::conversations::MAX_CONVERSATIONS_PER_USER as i64)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok($crate::conversations::ConversationId(id))
            }

            async fn add_turn(
                &self,
                user: $crate::accounts::UserId,
                conversation: $crate::conversations::ConversationId,
                turn: &$crate::conversations::Turn,
            ) -> $crate::conversations::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let owned: Option<i64> = sqlx::query_scalar(
                    "UPDATE conversations SET updated_ms = $1 WHERE id = $2 AND user_id = $3 RETURNING id",
                )
                .bind(turn.created_ms)
                .bind(conversation.0)
                .bind(user.0)
                .fetch_optional(&mut *tx)
                .await?;
                if owned.is_none() {
                    return Ok(false);
                }
                let turns: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM conversation_turns WHERE conversation_id = $1")
                        .bind(conversation.0)
                        .fetch_one(&mut *tx)
                        .await?;
                if turns as usize >= $crate::conversations::MAX_TURNS {
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO conversation_turns (conversation_id, ordinal, question, answer, documents, \
                     created_ms) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(conversation.0)
                .bind(turns)
                .bind($crate::catalog::storable(&turn.question).into_owned())
                .bind($crate::catalog::storable(&turn.answer).into_owned())
                .bind($crate::conversations::sql::documents_json(&turn.documents))
                .bind(turn.created_ms)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn conversations(
                &self,
                user: $crate::accounts::UserId,
                limit: usize,
            ) -> $crate::conversations::Result<Vec<$crate::conversations::ConversationSummary>> {
                use $crate::conversations::sql::{SummaryRow, SUMMARY_COLUMNS};
                let sql = format!(
                    "SELECT {SUMMARY_COLUMNS} FROM conversations c WHERE c.user_id = $1 \
                     ORDER BY c.updated_ms DESC, c.id DESC LIMIT $2"
                );
                let rows: Vec<SummaryRow> =
                    sqlx::query_as(&sql).bind(user.0).bind(limit.min(10_000) as i64).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(SummaryRow::into_summary).collect())
            }

            async fn conversation(
                &self,
                user: $crate::accounts::UserId,
                id: $crate::conversations::ConversationId,
            ) -> $crate::conversations::Result<
                Option<($crate::conversations::ConversationSummary, Vec<$crate::conversations::Turn>)>,
            > {
                use $crate::conversations::sql::{SummaryRow, TurnRow, SUMMARY_COLUMNS};
                let sql = format!("SELECT {SUMMARY_COLUMNS} FROM conversations c WHERE c.id = $1 AND c.user_id = $2");
                let found: Option<SummaryRow> =
                    sqlx::query_as(&sql).bind(id.0).bind(user.0).fetch_optional(&self.pool).await?;
                let Some(summary) = found else { return Ok(None) };
                let turns: Vec<TurnRow> = sqlx::query_as(
                    "SELECT question, answer, documents, created_ms FROM conversation_turns \
                     WHERE conversation_id = $1 ORDER BY ordinal",
                )
                .bind(id.0)
                .fetch_all(&self.pool)
                .await?;
                let turns = turns.into_iter().map(TurnRow::into_turn).collect::<$crate::conversations::Result<_>>()?;
                Ok(Some((summary.into_summary(), turns)))
            }

            async fn delete_conversation(
                &self,
                user: $crate::accounts::UserId,
                id: $crate::conversations::ConversationId,
            ) -> $crate::conversations::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let owned: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM conversations WHERE id = $1 AND user_id = $2")
                        .bind(id.0)
                        .bind(user.0)
                        .fetch_optional(&mut *tx)
                        .await?;
                if owned.is_some() {
                    sqlx::query("DELETE FROM conversation_turns WHERE conversation_id = $1")
                        .bind(id.0)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM conversations WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(owned.is_some())
            }
        }
    };
}

pub(crate) use impl_sql_conversations;
