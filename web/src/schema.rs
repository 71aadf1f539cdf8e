//! The JSON shapes Lore prints and serves: give it search results or an answer, get the object that
//! `lore search --json`, `lore ask --json` and the web API all return (one definition, so the CLI and the
//! API cannot drift apart). The OpenAPI document is generated from these types.

use lore_answer::{Answer, Citation};
use lore_core::catalog::{DocumentStatus, FailureRecord};
use lore_retrieve::{Duplicate, Hit, SearchResults};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How much of a result's making a caller sees. Scores carry the statistics of every chunk, those the
/// caller may not read included (BM25's document frequencies), and timings show what other callers
/// asked before (caches): only administrators, and the command line, get them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    Full,
    Reader,
}

impl Detail {
    pub fn for_admin(is_admin: bool) -> Self {
        if is_admin {
            Self::Full
        } else {
            Self::Reader
        }
    }

    fn shows(self) -> bool {
        self == Self::Full
    }
}

/// One search result.
#[derive(Debug, Serialize, ToSchema)]
pub struct HitJson {
    pub document_path: String,
    pub title: String,
    /// Page of a PDF, from 1; null for formats without pages.
    pub page: Option<u32>,
    /// The heading path of a Markdown, HTML or DOCX passage ("Setup > VPN").
    pub heading: Option<String>,
    /// The whole passage.
    pub text: String,
    /// HTML-escaped passage excerpt with the query words in `<mark>`.
    pub snippet: String,
    /// The ranking's score; null for callers who do not administer (see `Detail`).
    pub score: Option<f32>,
    pub source: String,
    /// pdf, markdown, html, text or docx.
    #[schema(value_type = String)]
    pub kind: lore_core::DocumentKind,
    #[schema(value_type = i64)]
    pub document_id: lore_core::DocumentId,
    #[schema(value_type = u64)]
    pub chunk_id: lore_core::ChunkId,
    /// Character span of the passage in the document's extracted text.
    pub start: usize,
    pub end: usize,
    /// The same passage in other documents, collapsed into this hit.
    #[schema(value_type = Vec<Object>)]
    pub also_in: Vec<Duplicate>,
}

impl HitJson {
    pub fn new(hit: &Hit, detail: Detail) -> Self {
        Self {
            document_path: hit.document_path.clone(),
            title: hit.title.clone(),
            page: hit.page,
            heading: hit.heading.clone(),
            text: hit.text.clone(),
            snippet: hit.snippet.to_html(),
            score: detail.shows().then_some(hit.score),
            source: hit.source.clone(),
            kind: hit.kind,
            document_id: hit.document_id,
            chunk_id: hit.chunk_id,
            start: hit.start,
            end: hit.end,
            also_in: hit.also_in.clone(),
        }
    }
}

/// What a search returns.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchJson {
    pub hits: Vec<HitJson>,
    /// The ranking used: hybrid_rrf, hybrid_convex, bm25 or dense.
    pub mode: String,
    /// The query was longer than `retrieval.max_query_chars` and only its beginning was searched.
    pub query_truncated: bool,
    /// Milliseconds per stage; null for callers who do not administer.
    #[schema(value_type = Option<Object>)]
    pub timings_ms: Option<lore_retrieve::Timings>,
}

impl SearchJson {
    pub fn new(results: &SearchResults, detail: Detail) -> Self {
        Self {
            hits: results.hits.iter().map(|hit| HitJson::new(hit, detail)).collect(),
            mode: results.mode.name().to_string(),
            query_truncated: results.query_truncated,
            timings_ms: detail.shows().then_some(results.timings),
        }
    }
}

/// A citation of a checked answer: a character span of a document's extracted text.
#[derive(Debug, Serialize, ToSchema)]
pub struct CitationJson {
    /// The marker's number: `[n]` in the answer.
    pub n: usize,
    #[schema(value_type = i64)]
    pub document_id: lore_core::DocumentId,
    pub document_path: String,
    pub title: String,
    pub source: String,
    pub page: Option<u32>,
    pub start: usize,
    pub end: usize,
    /// The text at that span.
    pub quote: String,
}

impl From<&Citation> for CitationJson {
    fn from(c: &Citation) -> Self {
        Self {
            n: c.n,
            document_id: c.document_id,
            document_path: c.document_path.clone(),
            title: c.title.clone(),
            source: c.source.clone(),
            page: c.page,
            start: c.start,
            end: c.end,
            quote: c.quote.clone(),
        }
    }
}

/// A passage the answer was written from (for an abstention: the closest sources).
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceJson {
    pub n: usize,
    #[schema(value_type = i64)]
    pub document_id: lore_core::DocumentId,
    pub document_path: String,
    pub title: String,
    pub source: String,
    pub page: Option<u32>,
    pub heading: Option<String>,
}

impl From<&lore_answer::context::Passage> for SourceJson {
    fn from(p: &lore_answer::context::Passage) -> Self {
        Self {
            n: p.n,
            document_id: p.document_id,
            document_path: p.document_path.clone(),
            title: p.title.clone(),
            source: p.source.clone(),
            page: p.page,
            heading: p.heading.clone(),
        }
    }
}

/// Generation measurements of one answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct GenerationJson {
    pub prompt_tokens: usize,
    pub answer_tokens: usize,
    pub time_to_first_token_ms: f64,
    pub decode_tokens_per_s: f64,
}

/// A checked answer: what `lore ask --json` prints and the last event of `POST /api/ask`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnswerJson {
    /// The checked answer with `[n]` citation markers, or the abstention sentence.
    pub answer: String,
    pub abstained: bool,
    /// Why it abstained: no_passages, weak_evidence, model_declined or unsupported.
    #[schema(value_type = Option<String>)]
    pub abstention: Option<lore_answer::Abstention>,
    /// 0..1: how well the passages support the answer's sentences.
    pub support: f32,
    pub citations: Vec<CitationJson>,
    /// Every sentence the model wrote, with the check's verdict.
    #[schema(value_type = Vec<Object>)]
    pub sentences: Vec<lore_answer::guard::CheckedSentence>,
    pub sources: Vec<SourceJson>,
    /// The model's text before the check.
    pub draft: String,
    /// The question as searched (a follow-up rewritten to stand alone).
    pub standalone_question: String,
    /// 0..1: how well the passages answer the question (the best sentence's meaning and the best
    /// passage's share of the question's words); below `answer.min_evidence` it is not answered.
    pub evidence: f32,
    /// The sentence of the passages that best answers the question, as a citation (`quote` is the
    /// sentence), as the `evidence` event sent it; null when nothing was found.
    pub best_evidence: Option<CitationJson>,
    /// Numbers and names of the question that no passage mentions (then it is not answered).
    pub missing_question_facts: Vec<String>,
    pub prompt_tokens: usize,
    /// Null for callers who do not administer, like `timings_ms`.
    pub generation: Option<GenerationJson>,
    #[schema(value_type = Option<Object>)]
    pub timings_ms: Option<lore_answer::AnswerTimings>,
}

impl AnswerJson {
    pub fn new(answer: &Answer, detail: Detail) -> Self {
        Self {
            answer: answer.text.clone(),
            abstained: answer.abstained,
            abstention: answer.abstention,
            support: answer.support,
            citations: answer.citations.iter().map(CitationJson::from).collect(),
            sentences: answer.sentences.clone(),
            sources: answer.passages.iter().map(SourceJson::from).collect(),
            draft: answer.draft.clone(),
            standalone_question: answer.standalone_question.clone(),
            evidence: answer.evidence,
            best_evidence: answer.best_evidence.as_ref().map(CitationJson::from),
            missing_question_facts: answer.missing_question_facts.clone(),
            prompt_tokens: answer.prompt_tokens,
            generation: answer.generation.filter(|_| detail.shows()).map(|g| GenerationJson {
                prompt_tokens: g.prompt_tokens,
                answer_tokens: g.answer_tokens,
                time_to_first_token_ms: g.time_to_first_token.as_secs_f64() * 1000.0,
                decode_tokens_per_s: g.decode_tokens_per_s,
            }),
            timings_ms: detail.shows().then_some(answer.timings),
        }
    }
}

/// An error, from any endpoint: `{"error":{"code","message"}}` with a matching HTTP status.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorJson {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code: bad_request, not_found, busy, not_ready, too_large, forbidden,
    /// internal.
    pub code: String,
    /// Lowercase, human-readable explanation.
    pub message: String,
}

/// A file of a source that could not be indexed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailureJson {
    pub source: String,
    pub path: String,
    /// failed or no_text
    #[schema(value_type = String)]
    pub status: DocumentStatus,
    pub error: String,
}

impl From<&FailureRecord> for FailureJson {
    fn from(f: &FailureRecord) -> Self {
        Self { source: f.source.clone(), path: f.path.clone(), status: f.status, error: f.error.clone() }
    }
}

/// A source folder: what it indexes, who may read it, its counts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceFolderJson {
    pub name: String,
    /// The folder it indexes.
    pub root: String,
    /// Principals allowed to read its documents.
    pub acl: Vec<String>,
    pub documents: u64,
    pub chunks: u64,
    /// Files that could not be indexed (see `/api/ingest` for why).
    pub failed: u64,
    pub last_synced_ms: Option<i64>,
}
