//! Conversations: give it a user and the turns of their questions and answers, get their
//! conversations back (newest first), one with its turns, or none once deleted. Every call names the
//! user, and a conversation is found only with its owner's id: nobody else's exists for them. It lives
//! in the catalog's database (`conversations`, `conversation_turns`), so every web replica sees it.
//!
//! A turn keeps the answer as the web service showed it (JSON it reads back, opaque here) and the
//! documents it cited: before showing an old answer, the caller checks they may still read them.

pub(crate) mod sql;

use async_trait::async_trait;
use serde::Serialize;

use crate::accounts::UserId;
use crate::catalog::CatalogError;
use crate::types::DocumentId;

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// Conversations a user keeps at most; starting one more forgets the oldest.
pub const MAX_CONVERSATIONS_PER_USER: usize = 500;
/// Turns one conversation holds at most.
pub const MAX_TURNS: usize = 100;
/// Characters of a title (the first question, cut).
pub const MAX_TITLE_CHARS: usize = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ConversationId(pub i64);

/// A conversation as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationSummary {
    pub id: ConversationId,
    pub title: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub turns: u64,
}

/// One question and its answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turn {
    pub question: String,
    /// The answer as its writer stored it (JSON).
    pub answer: String,
    /// Every document the answer cites or lists as a source.
    pub documents: Vec<DocumentId>,
    pub created_ms: i64,
}

/// Conversations per user, in the catalog's database. Both catalogs implement it.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// Starts a conversation for `user`, titled after its first question; forgets the user's oldest
    /// beyond [`MAX_CONVERSATIONS_PER_USER`].
    async fn start_conversation(&self, user: UserId, title: &str, now_ms: i64) -> Result<ConversationId>;
    /// Appends a turn to `user`'s conversation; false when it is not theirs (or gone) or full.
    async fn add_turn(&self, user: UserId, conversation: ConversationId, turn: &Turn) -> Result<bool>;
    /// `user`'s conversations, most recently continued first, at most `limit`.
    async fn conversations(&self, user: UserId, limit: usize) -> Result<Vec<ConversationSummary>>;
    /// One of `user`'s conversations with its turns in order; `None` when it is not theirs.
    async fn conversation(&self, user: UserId, id: ConversationId) -> Result<Option<(ConversationSummary, Vec<Turn>)>>;
    /// Deletes one of `user`'s conversations; false when it is not theirs.
    async fn delete_conversation(&self, user: UserId, id: ConversationId) -> Result<bool>;
}

/// A title from a first question: its first line, cut to [`MAX_TITLE_CHARS`].
pub fn title_of(question: &str) -> String {
    let line = question.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("Conversation");
    let mut title: String = line.chars().take(MAX_TITLE_CHARS).collect();
    if line.chars().count() > MAX_TITLE_CHARS {
        title.push('…');
    }
    title
}
