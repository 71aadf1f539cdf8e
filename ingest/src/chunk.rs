//! Chunking: give it extracted text, get chunks sized in the embedding model's own tokens, each with its
//! page or heading path and its character span in the text.
//!
//! PDFs are split page by page so a chunk never straddles two pages (a citation names one page);
//! Markdown (and HTML/DOCX converted to it) is split along its structure.

use lore_core::config::ChunkingConfig;
use lore_core::embed::TokenCounter;
use lore_core::{Chunk, ChunkId, DocumentId};
use text_splitter::{ChunkCapacity, ChunkConfig, ChunkConfigError, MarkdownSplitter, TextSplitter};
use tokenizers::Tokenizer;

use crate::extract::markdown_heading_at;
use crate::extract::{Extracted, TextLayout};

/// Byte offset of the first line of `chunk` that is neither blank nor a heading: a chunk that opens with
/// `## Install` then `### Linux` is about Linux installation, not just "Install".
fn first_body_line(chunk: &str) -> usize {
    let mut offset = 0;
    for line in chunk.split_inclusive('\n') {
        let trimmed = line.trim();
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            return offset;
        }
        offset += line.len();
    }
    0
}

/// A chunk before it has an id (which needs the document's catalog id).
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkDraft {
    pub ordinal: u32,
    pub text: String,
    pub page: Option<u32>,
    pub heading: Option<String>,
    /// Character offsets into the extracted text.
    pub start: usize,
    pub end: usize,
    pub tokens: u32,
}

impl ChunkDraft {
    /// The chunk, once its document has a catalog id; `None` when the ordinal is over
    /// [`ChunkId::MAX_PER_DOCUMENT`].
    pub fn into_chunk(self, document: DocumentId) -> Option<Chunk> {
        let ChunkDraft { ordinal, text, page, heading, start, end, tokens } = self;
        Some(Chunk { id: ChunkId::new(document, ordinal)?, ordinal, text, page, heading, start, end, tokens })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChunkerError {
    #[error("invalid chunking configuration: {0}")]
    Config(String),
}

pub struct Chunker {
    counter: TokenCounter,
    text: TextSplitter<Tokenizer>,
    markdown: MarkdownSplitter<Tokenizer>,
}

impl Chunker {
    pub fn new(counter: TokenCounter, config: &ChunkingConfig) -> Result<Self, ChunkerError> {
        let chunk_config = || -> Result<ChunkConfig<Tokenizer>, ChunkerError> {
            let capacity = ChunkCapacity::new(config.target_tokens)
                .with_max(config.max_tokens)
                .map_err(|e| ChunkerError::Config(e.to_string()))?;
            ChunkConfig::new(capacity)
                .with_sizer(counter.tokenizer().clone())
                .with_overlap(config.overlap_tokens)
                .map_err(|e: ChunkConfigError| ChunkerError::Config(e.to_string()))
        };
        Ok(Self { text: TextSplitter::new(chunk_config()?), markdown: MarkdownSplitter::new(chunk_config()?), counter })
    }

    /// Chunks a whole extracted document.
    pub fn chunk(&self, doc: &Extracted) -> Vec<ChunkDraft> {
        let mut drafts = Vec::new();
        let mut ordinal = 0u32;
        match (doc.layout, doc.page_starts.is_empty()) {
            (TextLayout::Plain, false) => {
                let mut chars_before = 0usize;
                let mut previous = 0usize;
                for (i, &start) in doc.page_starts.iter().enumerate() {
                    let end = doc.page_starts.get(i + 1).copied().unwrap_or(doc.text.len());
                    chars_before += doc.text[previous..start].chars().count();
                    previous = start;
                    drafts.extend(self.chunk_page(&doc.text[start..end], i as u32 + 1, chars_before, &mut ordinal));
                }
            }
            (TextLayout::Plain, true) => {
                for piece in self.text.chunk_char_indices(&doc.text) {
                    drafts.extend(self.draft(piece.chunk, piece.char_offset, None, None, &mut ordinal));
                }
            }
            (TextLayout::Markdown, _) => {
                for piece in self.markdown.chunk_char_indices(&doc.text) {
                    let body = piece.byte_offset + first_body_line(piece.chunk);
                    let heading = markdown_heading_at(&doc.headings, body).map(str::to_string);
                    drafts.extend(self.draft(piece.chunk, piece.char_offset, None, heading, &mut ordinal));
                }
            }
        }
        drafts
    }

    /// Chunks one page of a paginated document. `char_start` is the page's character offset in the
    /// whole text; ordinals continue from `next_ordinal`.
    pub fn chunk_page(&self, text: &str, page: u32, char_start: usize, next_ordinal: &mut u32) -> Vec<ChunkDraft> {
        self.text
            .chunk_char_indices(text)
            .filter_map(|piece| self.draft(piece.chunk, char_start + piece.char_offset, Some(page), None, next_ordinal))
            .collect()
    }

    fn draft(
        &self,
        text: &str,
        start: usize,
        page: Option<u32>,
        heading: Option<String>,
        next_ordinal: &mut u32,
    ) -> Option<ChunkDraft> {
        if !text.chars().any(char::is_alphanumeric) {
            return None;
        }
        let ordinal = *next_ordinal;
        *next_ordinal += 1;
        Some(ChunkDraft {
            ordinal,
            text: text.to_string(),
            page,
            heading,
            start,
            end: start + text.chars().count(),
            tokens: self.counter.count(text) as u32,
        })
    }
}
