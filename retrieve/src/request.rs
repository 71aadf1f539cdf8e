//! What a caller asks for: the query, what it may see, what it narrowed down to, how many hits.

use lore_core::config::FusionMethod;
use lore_core::{DocumentKind, SearchFilter, EVERYONE};
use serde::{Deserialize, Serialize};

/// Whose permissions a search runs with. There is no default: every caller states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// A user holding these principals; [`EVERYONE`] is always added.
    Principals(Vec<String>),
    /// Every document regardless of its ACL: administration and evaluation only.
    Unrestricted,
}

impl Access {
    pub fn everyone() -> Self {
        Self::Principals(Vec::new())
    }

    /// The principals a chunk's ACL must share with the caller; empty means no restriction.
    fn principals(&self) -> Vec<String> {
        match self {
            Self::Principals(held) => {
                let mut principals = vec![EVERYONE.to_string()];
                for principal in held {
                    if !principals.contains(principal) {
                        principals.push(principal.clone());
                    }
                }
                principals
            }
            Self::Unrestricted => Vec::new(),
        }
    }
}

/// Which engines rank the hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// BM25 alone.
    Bm25,
    /// Vector nearest neighbours alone.
    Dense,
    /// Both, fused.
    Hybrid(FusionMethod),
}

impl Mode {
    /// Name used in reports: `bm25`, `dense`, `hybrid_rrf`, `hybrid_convex`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bm25 => "bm25",
            Self::Dense => "dense",
            Self::Hybrid(FusionMethod::Rrf) => "hybrid_rrf",
            Self::Hybrid(FusionMethod::Convex) => "hybrid_convex",
        }
    }

    pub(crate) fn uses_text(self) -> bool {
        !matches!(self, Self::Dense)
    }

    pub(crate) fn uses_vectors(self) -> bool {
        !matches!(self, Self::Bm25)
    }
}

/// Narrowing chosen by the user (facets); empty lists do not narrow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Narrowing {
    pub sources: Vec<String>,
    pub kinds: Vec<DocumentKind>,
    /// Documents modified at or after this time (ms since the epoch).
    pub modified_after_ms: Option<i64>,
    /// Documents modified before this time (ms since the epoch).
    pub modified_before_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchRequest {
    pub query: String,
    pub access: Access,
    pub narrowing: Narrowing,
    /// Hits to return (after skipping `offset`).
    pub limit: usize,
    /// Hits to skip, for pagination.
    pub offset: usize,
    /// `None`: the configured hybrid fusion.
    pub mode: Option<Mode>,
}

impl SearchRequest {
    pub fn new(query: impl Into<String>, access: Access) -> Self {
        Self { query: query.into(), access, narrowing: Narrowing::default(), limit: 10, offset: 0, mode: None }
    }

    /// The filter both engines apply before ranking.
    pub fn filter(&self) -> SearchFilter {
        SearchFilter {
            principals: self.access.principals(),
            sources: self.narrowing.sources.clone(),
            kinds: self.narrowing.kinds.clone(),
            modified_after_ms: self.narrowing.modified_after_ms,
            modified_before_ms: self.narrowing.modified_before_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_user_holds_everyone_and_only_administration_is_unrestricted() {
        let user = SearchRequest::new("q", Access::Principals(vec!["hr".into(), EVERYONE.into()]));
        assert_eq!(user.filter().principals, [EVERYONE, "hr"]);
        assert_eq!(SearchRequest::new("q", Access::everyone()).filter().principals, [EVERYONE]);
        assert!(SearchRequest::new("q", Access::Unrestricted).filter().principals.is_empty());
    }
}
