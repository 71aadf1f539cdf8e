//! The accounts' SQL, written once for both engines like the catalog's (`catalog/sql.rs`).

use super::{Result, Scope, SessionRecord, TokenId, TokenRecord, UserId, UserRecord};
use crate::catalog::CatalogError;

pub(crate) const USER_COLUMNS: &str = "users.id, users.issuer, users.subject, users.display_name, users.email, \
     users.principals, users.is_admin, users.disabled, users.created_ms, users.last_sign_in_ms";

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: i64,
    issuer: String,
    subject: String,
    display_name: String,
    email: Option<String>,
    principals: String,
    is_admin: bool,
    disabled: bool,
    created_ms: i64,
    last_sign_in_ms: Option<i64>,
}

impl UserRow {
    pub(crate) fn into_record(self) -> Result<UserRecord> {
        let principals = serde_json::from_str(&self.principals)
            .map_err(|e| CatalogError::Corrupt(format!("principals of user {}: {e}", self.id)))?;
        Ok(UserRecord {
            id: UserId(self.id),
            issuer: self.issuer,
            subject: self.subject,
            display_name: self.display_name,
            email: self.email,
            principals,
            is_admin: self.is_admin,
            disabled: self.disabled,
            created_ms: self.created_ms,
            last_sign_in_ms: self.last_sign_in_ms,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SessionUserRow {
    #[sqlx(flatten)]
    user: UserRow,
    session_created_ms: i64,
    session_last_seen_ms: i64,
    session_expires_ms: i64,
}

impl SessionUserRow {
    pub(crate) fn into_record(self) -> Result<SessionRecord> {
        Ok(SessionRecord {
            user: self.user.into_record()?,
            created_ms: self.session_created_ms,
            last_seen_ms: self.session_last_seen_ms,
            expires_ms: self.session_expires_ms,
        })
    }
}

pub(crate) const TOKEN_COLUMNS: &str = "api_tokens.id AS token_id, api_tokens.user_id AS token_user_id, \
     api_tokens.name AS token_name, api_tokens.hint AS token_hint, api_tokens.scopes AS token_scopes, \
     api_tokens.principals AS token_principals, api_tokens.created_ms AS token_created_ms, \
     api_tokens.expires_ms AS token_expires_ms, api_tokens.last_used_ms AS token_last_used_ms, \
     api_tokens.revoked_ms AS token_revoked_ms";

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    token_id: i64,
    token_user_id: i64,
    token_name: String,
    token_hint: String,
    token_scopes: String,
    token_principals: Option<String>,
    token_created_ms: i64,
    token_expires_ms: Option<i64>,
    token_last_used_ms: Option<i64>,
    token_revoked_ms: Option<i64>,
}

impl TokenRow {
    pub(crate) fn into_record(self) -> Result<TokenRecord> {
        let corrupt =
            |what: &str, e: serde_json::Error| CatalogError::Corrupt(format!("{what} of token {}: {e}", self.token_id));
        let scopes: Vec<String> = serde_json::from_str(&self.token_scopes).map_err(|e| corrupt("scopes", e))?;
        let scopes = scopes
            .iter()
            .map(|s| Scope::parse(s).ok_or_else(|| CatalogError::Corrupt(format!("unknown token scope {s:?}"))))
            .collect::<Result<Vec<_>>>()?;
        let principals = match &self.token_principals {
            Some(json) => Some(serde_json::from_str(json).map_err(|e| corrupt("principals", e))?),
            None => None,
        };
        Ok(TokenRecord {
            id: TokenId(self.token_id),
            user: UserId(self.token_user_id),
            name: self.token_name,
            hint: self.token_hint,
            scopes,
            principals,
            created_ms: self.token_created_ms,
            expires_ms: self.token_expires_ms,
            last_used_ms: self.token_last_used_ms,
            revoked_ms: self.token_revoked_ms,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TokenUserRow {
    #[sqlx(flatten)]
    token: TokenRow,
    #[sqlx(flatten)]
    user: UserRow,
}

impl TokenUserRow {
    pub(crate) fn into_pair(self) -> Result<(TokenRecord, UserRecord)> {
        Ok((self.token.into_record()?, self.user.into_record()?))
    }
}

pub(crate) fn scopes_json(scopes: &[Scope]) -> String {
    serde_json::to_string(&scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>()).expect("strings serialise")
}

pub(crate) fn principals_json(principals: &[String]) -> String {
    serde_json::to_string(principals).expect("a list of strings serialises")
}

/// Implements [`super::AccountStore`] for a catalog type with a `pool` field.
macro_rules! impl_sql_accounts {
    ($catalog:ty) => {
        #[async_trait::async_trait]
        impl $crate::accounts::AccountStore for $catalog {
            async fn create_local_user(
                &self,
                user: &$crate::accounts::NewLocalUser<'_>,
                now_ms: i64,
            ) -> $crate::accounts::Result<Option<$crate::accounts::UserRecord>> {
                use $crate::accounts::sql::{principals_json, UserRow, USER_COLUMNS};
                let sql = format!(
                    "INSERT INTO users (issuer, subject, display_name, password_hash, principals, is_admin, \
                     created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (issuer, subject) DO NOTHING \
                     RETURNING {}",
                    USER_COLUMNS.replace("users.", "")
                );
                let row: Option<UserRow> = sqlx::query_as(&sql)
                    .bind($crate::accounts::LOCAL_ISSUER)
                    .bind(user.login)
                    .bind(user.display_name)
                    .bind(user.password_hash)
                    .bind(principals_json(user.principals))
                    .bind(user.is_admin)
                    .bind(now_ms)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(UserRow::into_record).transpose()
            }

            async fn provider_user(
                &self,
                user: &$crate::accounts::ProviderUser<'_>,
                now_ms: i64,
            ) -> $crate::accounts::Result<$crate::accounts::UserRecord> {
                use $crate::accounts::sql::{principals_json, UserRow, USER_COLUMNS};
                let sql = format!(
                    "INSERT INTO users (issuer, subject, display_name, email, principals, created_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (issuer, subject) DO UPDATE SET \
                       display_name = excluded.display_name, email = excluded.email, \
                       principals = excluded.principals \
                     RETURNING {}",
                    USER_COLUMNS.replace("users.", "")
                );
                let row: UserRow = sqlx::query_as(&sql)
                    .bind(user.issuer)
                    .bind(user.subject)
                    .bind(user.display_name)
                    .bind(user.email)
                    .bind(principals_json(user.principals))
                    .bind(now_ms)
                    .fetch_one(&self.pool)
                    .await?;
                row.into_record()
            }

            async fn save_sign_in_flow(
                &self,
                state_hash: &str,
                flow: &$crate::accounts::SignInFlow,
            ) -> $crate::accounts::Result<()> {
                sqlx::query(
                    "INSERT INTO sign_in_flows (state_hash, browser_hash, provider, pkce_verifier, nonce, \
                     next_path, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(state_hash)
                .bind(&flow.browser_hash)
                .bind(&flow.provider)
                .bind(&flow.pkce_verifier)
                .bind(&flow.nonce)
                .bind(&flow.next_path)
                .bind(flow.created_ms)
                .execute(&self.pool)
                .await?;
                // Flows nobody finished are forgotten here too, so abandoned ones cannot pile up.
                sqlx::query("DELETE FROM sign_in_flows WHERE created_ms < $1")
                    .bind(flow.created_ms - $crate::accounts::SIGN_IN_FLOW_KEPT_MS)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn take_sign_in_flow(
                &self,
                state_hash: &str,
                since_ms: i64,
            ) -> $crate::accounts::Result<Option<$crate::accounts::SignInFlow>> {
                let mut tx = self.pool.begin().await?;
                let row: Option<(String, String, String, String, String, i64)> = sqlx::query_as(
                    "DELETE FROM sign_in_flows WHERE state_hash = $1 RETURNING browser_hash, provider, \
                     pkce_verifier, nonce, next_path, created_ms",
                )
                .bind(state_hash)
                .fetch_optional(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM sign_in_flows WHERE created_ms < $1").bind(since_ms).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(row.filter(|row| row.5 >= since_ms).map(
                    |(browser_hash, provider, pkce_verifier, nonce, next_path, created_ms)| {
                        $crate::accounts::SignInFlow {
                            browser_hash,
                            provider,
                            pkce_verifier,
                            nonce,
                            next_path,
                            created_ms,
                        }
                    },
                ))
            }

            async fn set_local_password(&self, login: &str, password_hash: &str) -> $crate::accounts::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let id: Option<i64> = sqlx::query_scalar(
                    "UPDATE users SET password_hash = $1 WHERE issuer = $2 AND subject = $3 RETURNING id",
                )
                .bind(password_hash)
                .bind($crate::accounts::LOCAL_ISSUER)
                .bind(login)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(id) = id {
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(id.is_some())
            }

            async fn local_credentials(
                &self,
                login: &str,
            ) -> $crate::accounts::Result<Option<($crate::accounts::UserRecord, String)>> {
                use $crate::accounts::sql::{UserRow, USER_COLUMNS};
                let sql = format!(
                    "SELECT {USER_COLUMNS}, users.password_hash FROM users WHERE issuer = $1 AND subject = $2 \
                     AND password_hash IS NOT NULL"
                );
                #[derive(sqlx::FromRow)]
                struct Row {
                    #[sqlx(flatten)]
                    user: UserRow,
                    password_hash: String,
                }
                let row: Option<Row> = sqlx::query_as(&sql)
                    .bind($crate::accounts::LOCAL_ISSUER)
                    .bind(login)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|row| Ok((row.user.into_record()?, row.password_hash))).transpose()
            }

            async fn user(
                &self,
                id: $crate::accounts::UserId,
            ) -> $crate::accounts::Result<Option<$crate::accounts::UserRecord>> {
                use $crate::accounts::sql::{UserRow, USER_COLUMNS};
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
                let row: Option<UserRow> = sqlx::query_as(&sql).bind(id.0).fetch_optional(&self.pool).await?;
                row.map(UserRow::into_record).transpose()
            }

            async fn users(&self) -> $crate::accounts::Result<Vec<$crate::accounts::UserRecord>> {
                use $crate::accounts::sql::{UserRow, USER_COLUMNS};
                let sql = format!(
                    "SELECT {USER_COLUMNS} FROM users ORDER BY CASE WHEN issuer = $1 THEN 0 ELSE 1 END, issuer, \
                     subject"
                );
                let rows: Vec<UserRow> =
                    sqlx::query_as(&sql).bind($crate::accounts::LOCAL_ISSUER).fetch_all(&self.pool).await?;
                rows.into_iter().map(UserRow::into_record).collect()
            }

            async fn set_disabled(
                &self,
                id: $crate::accounts::UserId,
                disabled: bool,
            ) -> $crate::accounts::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let changed = sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
                    .bind(disabled)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if disabled {
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id.0).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(changed > 0)
            }

            async fn create_token(
                &self,
                token: &$crate::accounts::NewToken<'_>,
                now_ms: i64,
            ) -> $crate::accounts::Result<$crate::accounts::TokenRecord> {
                use $crate::accounts::sql::{principals_json, scopes_json, TokenRow, TOKEN_COLUMNS};
                let sql = format!(
                    "INSERT INTO api_tokens (user_id, name, secret_hash, hint, scopes, principals, created_ms, \
                     expires_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {}",
                    TOKEN_COLUMNS.replace("api_tokens.", "")
                );
                let row: TokenRow = sqlx::query_as(&sql)
                    .bind(token.user.0)
                    .bind(token.name)
                    .bind(token.secret_hash)
                    .bind(token.hint)
                    .bind(scopes_json(token.scopes))
                    .bind(token.principals.map(principals_json))
                    .bind(now_ms)
                    .bind(token.expires_ms)
                    .fetch_one(&self.pool)
                    .await?;
                row.into_record()
            }

            async fn tokens_of(
                &self,
                user: $crate::accounts::UserId,
            ) -> $crate::accounts::Result<Vec<$crate::accounts::TokenRecord>> {
                use $crate::accounts::sql::{TokenRow, TOKEN_COLUMNS};
                let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY id DESC");
                let rows: Vec<TokenRow> = sqlx::query_as(&sql).bind(user.0).fetch_all(&self.pool).await?;
                rows.into_iter().map(TokenRow::into_record).collect()
            }

            async fn revoke_token(
                &self,
                user: $crate::accounts::UserId,
                token: $crate::accounts::TokenId,
                now_ms: i64,
            ) -> $crate::accounts::Result<bool> {
                let done = sqlx::query(
                    "UPDATE api_tokens SET revoked_ms = $1 WHERE id = $2 AND user_id = $3 AND revoked_ms IS NULL",
                )
                .bind(now_ms)
                .bind(token.0)
                .bind(user.0)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn token(
                &self,
                secret_hash: &str,
                now_ms: i64,
            ) -> $crate::accounts::Result<Option<($crate::accounts::TokenRecord, $crate::accounts::UserRecord)>> {
                use $crate::accounts::sql::{TokenUserRow, TOKEN_COLUMNS, USER_COLUMNS};
                let sql = format!(
                    "SELECT {TOKEN_COLUMNS}, {USER_COLUMNS} FROM api_tokens JOIN users ON users.id = api_tokens.user_id \
                     WHERE api_tokens.secret_hash = $1 AND api_tokens.revoked_ms IS NULL \
                     AND (api_tokens.expires_ms IS NULL OR api_tokens.expires_ms > $2) AND users.disabled = $3"
                );
                let row: Option<TokenUserRow> = sqlx::query_as(&sql)
                    .bind(secret_hash)
                    .bind(now_ms)
                    .bind(false)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(TokenUserRow::into_pair).transpose()
            }

            async fn mark_token_used(
                &self,
                token: $crate::accounts::TokenId,
                now_ms: i64,
            ) -> $crate::accounts::Result<()> {
                sqlx::query(
                    "UPDATE api_tokens SET last_used_ms = $1 WHERE id = $2 \
                     AND (last_used_ms IS NULL OR last_used_ms < $1)",
                )
                .bind(now_ms)
                .bind(token.0)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn create_session(
                &self,
                id_hash: &str,
                user: $crate::accounts::UserId,
                now_ms: i64,
                lifetimes: $crate::accounts::SessionLifetimes,
            ) -> $crate::accounts::Result<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO sessions (id_hash, user_id, created_ms, last_seen_ms, expires_ms) \
                     VALUES ($1, $2, $3, $3, $4)",
                )
                .bind(id_hash)
                .bind(user.0)
                .bind(now_ms)
                .bind(now_ms.saturating_add(lifetimes.absolute_ms))
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE users SET last_sign_in_ms = $1 WHERE id = $2")
                    .bind(now_ms)
                    .bind(user.0)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn session(
                &self,
                id_hash: &str,
                now_ms: i64,
                lifetimes: $crate::accounts::SessionLifetimes,
            ) -> $crate::accounts::Result<Option<$crate::accounts::SessionRecord>> {
                use $crate::accounts::sql::{SessionUserRow, USER_COLUMNS};
                let sql = format!(
                    "SELECT {USER_COLUMNS}, sessions.created_ms AS session_created_ms, \
                     sessions.last_seen_ms AS session_last_seen_ms, sessions.expires_ms AS session_expires_ms \
                     FROM sessions JOIN users ON users.id = sessions.user_id \
                     WHERE sessions.id_hash = $1 AND sessions.expires_ms > $2 AND sessions.last_seen_ms > $3 \
                     AND users.disabled = $4"
                );
                let row: Option<SessionUserRow> = sqlx::query_as(&sql)
                    .bind(id_hash)
                    .bind(now_ms)
                    .bind(now_ms.saturating_sub(lifetimes.idle_ms))
                    .bind(false)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(SessionUserRow::into_record).transpose()
            }

            async fn renew_session(&self, id_hash: &str, now_ms: i64) -> $crate::accounts::Result<()> {
                sqlx::query("UPDATE sessions SET last_seen_ms = $1 WHERE id_hash = $2 AND last_seen_ms < $1")
                    .bind(now_ms)
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_session(&self, id_hash: &str) -> $crate::accounts::Result<()> {
                sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(&self.pool).await?;
                Ok(())
            }

            async fn delete_sessions_of(&self, user: $crate::accounts::UserId) -> $crate::accounts::Result<u64> {
                let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user.0).execute(&self.pool).await?;
                Ok(done.rows_affected())
            }

            async fn purge_sessions(
                &self,
                now_ms: i64,
                lifetimes: $crate::accounts::SessionLifetimes,
            ) -> $crate::accounts::Result<u64> {
                let done = sqlx::query("DELETE FROM sessions WHERE expires_ms <= $1 OR last_seen_ms <= $2")
                    .bind(now_ms)
                    .bind(now_ms.saturating_sub(lifetimes.idle_ms))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use impl_sql_accounts;
