//! The audit log: give it events (who did what, from where, when), get them back by time, user and
//! action, and forget those older than the retention. Append-only otherwise; it lives in the catalog's
//! database (`audit_events`), so every replica writes to the same log.

pub(crate) mod sql;

use async_trait::async_trait;
use serde::Serialize;

use crate::accounts::UserId;
use crate::catalog::CatalogError;

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// The longest subject kept (a question or a query is cut there).
pub const MAX_SUBJECT_CHARS: usize = 2_000;
/// The most events one query returns.
pub const MAX_EVENTS: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    SignIn,
    SignInFailed,
    SignOut,
    Search,
    Ask,
    Open,
    Download,
    SourceAdd,
    SourceSync,
    SourceRemove,
    TokenCreate,
    TokenRevoke,
    /// An account was created, disabled, enabled or given a new password.
    UserChange,
}

impl AuditAction {
    pub const ALL: [AuditAction; 13] = [
        Self::SignIn,
        Self::SignInFailed,
        Self::SignOut,
        Self::Search,
        Self::Ask,
        Self::Open,
        Self::Download,
        Self::SourceAdd,
        Self::SourceSync,
        Self::SourceRemove,
        Self::TokenCreate,
        Self::TokenRevoke,
        Self::UserChange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::SignInFailed => "sign_in_failed",
            Self::SignOut => "sign_out",
            Self::Search => "search",
            Self::Ask => "ask",
            Self::Open => "open",
            Self::Download => "download",
            Self::SourceAdd => "source_add",
            Self::SourceSync => "source_sync",
            Self::SourceRemove => "source_remove",
            Self::TokenCreate => "token_create",
            Self::TokenRevoke => "token_revoke",
            Self::UserChange => "user_change",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Whether the subject is a document id (shown to a reader only if they may read it).
    pub fn names_a_document(self) -> bool {
        matches!(self, Self::Open | Self::Download)
    }
}

/// One thing someone did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub at_ms: i64,
    pub user: Option<UserId>,
    pub actor: String,
    pub client: Option<String>,
    pub action: AuditAction,
    pub subject: String,
}

/// Characters of an actor's name kept.
const MAX_ACTOR_CHARS: usize = 200;

impl AuditEvent {
    /// An event happening now; the actor and the subject are cut to what the log keeps.
    pub fn now(user: Option<UserId>, actor: &str, client: Option<String>, action: AuditAction, subject: &str) -> Self {
        Self {
            at_ms: crate::types::now_ms(),
            user,
            actor: actor.chars().take(MAX_ACTOR_CHARS).collect(),
            client,
            action,
            subject: subject.chars().take(MAX_SUBJECT_CHARS).collect(),
        }
    }
}

/// An event as stored, with its place in the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
}

/// Which events to read: a time window, optionally one user or one action, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub user: Option<UserId>,
    pub action: Option<AuditAction>,
    /// At most this many (capped at [`MAX_EVENTS`]).
    pub limit: usize,
}

#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends events in one transaction.
    async fn append(&self, events: &[AuditEvent]) -> Result<()>;
    /// Events matching `query`, newest first.
    async fn events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>>;
    /// Forgets events before `before_ms`; returns how many.
    async fn purge_before(&self, before_ms: i64) -> Result<u64>;
}
