//! Domain types shared by ingestion, retrieval and the web service.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The principal that every reader has; a document whose ACL holds it is public inside the company.
pub const EVERYONE: &str = "everyone";

/// Catalog id of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DocumentId(pub i64);

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Id of a chunk, the same in the catalog, the text index and the vector store.
///
/// It is derived from the document id and the chunk's ordinal, so that every store can be purged of a
/// document by its id and re-indexing a document never needs an id allocator shared between stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChunkId(pub u64);

impl ChunkId {
    /// Chunks one document may have: 2^20, over a million; the ingest limits keep real documents far below.
    pub const MAX_PER_DOCUMENT: u32 = 1 << 20;

    pub fn new(document: DocumentId, ordinal: u32) -> Option<Self> {
        if document.0 < 0 || ordinal >= Self::MAX_PER_DOCUMENT {
            return None;
        }
        Some(Self(((document.0 as u64) << 20) | u64::from(ordinal)))
    }

    pub fn document(self) -> DocumentId {
        DocumentId((self.0 >> 20) as i64)
    }

    pub fn ordinal(self) -> u32 {
        (self.0 & u64::from(Self::MAX_PER_DOCUMENT - 1)) as u32
    }
}

/// The formats Lore extracts text from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentKind {
    Pdf,
    Markdown,
    Html,
    Text,
    Docx,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 5] = [Self::Pdf, Self::Markdown, Self::Html, Self::Text, Self::Docx];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Markdown => "markdown",
            Self::Html => "html",
            Self::Text => "text",
            Self::Docx => "docx",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The kind a file name's extension says, or `None` for files Lore does not index.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "pdf" => Some(Self::Pdf),
            "md" | "markdown" | "mdown" | "mkd" => Some(Self::Markdown),
            "html" | "htm" | "xhtml" => Some(Self::Html),
            "txt" | "text" | "rst" | "log" | "csv" => Some(Self::Text),
            "docx" => Some(Self::Docx),
            _ => None,
        }
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What every store needs to know about the document a chunk belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentMeta {
    pub id: DocumentId,
    pub source: String,
    /// Path relative to the source's root folder, with `/` separators.
    pub path: String,
    pub title: String,
    pub kind: DocumentKind,
    /// Modification time of the file, milliseconds since the Unix epoch.
    pub modified_ms: i64,
    /// Principals allowed to read the document.
    pub acl: Vec<String>,
}

/// One retrievable passage of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub id: ChunkId,
    pub ordinal: u32,
    pub text: String,
    /// 1-based page number, for paginated formats.
    pub page: Option<u32>,
    /// Heading path, e.g. `Install > Linux`, for structured formats.
    pub heading: Option<String>,
    /// Character (Unicode scalar) offsets of the chunk in the document's extracted text: `start..end`.
    pub start: usize,
    pub end: usize,
    /// Length in tokens of the embedding model's tokenizer.
    pub tokens: u32,
}

/// A chunk as the indexes hold it: its text, position and document, ready to show as a search hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexedChunk {
    pub id: ChunkId,
    pub document: DocumentMeta,
    pub text: String,
    pub page: Option<u32>,
    pub heading: Option<String>,
    /// Character offsets in the document's extracted text.
    pub start: usize,
    pub end: usize,
}

/// Restricts a search to the chunks a caller may see and asked for; both engines apply it before ranking.
/// Empty lists do not restrict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchFilter {
    /// The chunk's ACL must hold at least one of these principals.
    pub principals: Vec<String>,
    pub sources: Vec<String>,
    pub kinds: Vec<DocumentKind>,
    /// Inclusive lower bound on the document's modification time (ms since the epoch).
    pub modified_after_ms: Option<i64>,
    /// Exclusive upper bound on the document's modification time (ms since the epoch).
    pub modified_before_ms: Option<i64>,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A time (ms since the epoch) as `YYYY-MM-DD HH:MM:SS`, UTC (Howard Hinnant's civil-from-days).
pub fn format_utc(ms: i64) -> String {
    let (days, secs) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000) / 1000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00");
        assert_eq!(format_utc(951_782_400_000 + 3_723_000), "2000-02-29 01:02:03");
        assert_eq!(format_utc(1_796_212_800_000), "2026-12-02 12:00:00");
        assert_eq!(format_utc(-1000), "1969-12-31 23:59:59");
    }

    #[test]
    fn chunk_id_round_trips_document_and_ordinal() {
        let id = ChunkId::new(DocumentId(123_456), 789).unwrap();
        assert_eq!(id.document(), DocumentId(123_456));
        assert_eq!(id.ordinal(), 789);
        assert!(ChunkId::new(DocumentId(1), ChunkId::MAX_PER_DOCUMENT).is_none());
        assert!(ChunkId::new(DocumentId(-1), 0).is_none());
    }

    #[test]
    fn kinds_parse_from_extensions_and_names() {
        assert_eq!(DocumentKind::from_extension("PDF"), Some(DocumentKind::Pdf));
        assert_eq!(DocumentKind::from_extension("htm"), Some(DocumentKind::Html));
        assert_eq!(DocumentKind::from_extension("exe"), None);
        for kind in DocumentKind::ALL {
            assert_eq!(DocumentKind::parse(kind.as_str()), Some(kind));
        }
    }
}
