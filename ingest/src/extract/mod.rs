//! Extraction: give it a file's bytes and kind, get its text with the positions citations need (page
//! starts for PDFs, heading marks for structured formats).
//!
//! Every extractor is a pure function of the bytes. [`extract_with_limits`] adds what untrusted input
//! needs: a size cap, a deadline, and containment of parser panics.

mod docx;
mod html;
mod markdown;
mod pdf;
mod text;

pub use markdown::heading_at as markdown_heading_at;
pub use pdf::PdfPage;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use lore_core::DocumentKind;

/// How the extracted text should be split into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextLayout {
    /// Prose without markup; PDFs split page by page.
    Plain,
    /// Markdown (native, or converted from HTML and DOCX): split along its structure.
    Markdown,
}

/// A heading that starts at `offset` (bytes into the extracted text), with the path of its ancestors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadingMark {
    pub offset: usize,
    pub level: u8,
    /// e.g. `Install > Linux > Debian`.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    pub title: Option<String>,
    pub layout: TextLayout,
    pub text: String,
    /// Byte offset where each page starts, for paginated formats; page `i` (0-based) spans
    /// `page_starts[i]..page_starts[i + 1]` (or to the end).
    pub page_starts: Vec<usize>,
    /// Sorted by offset.
    pub headings: Vec<HeadingMark>,
    /// The principals a Markdown page's front matter narrows its ACL to (`lore_core::acl`).
    pub page_acl: Option<Vec<String>>,
}

impl Extracted {
    fn plain(title: Option<String>, text: String) -> Self {
        Self { title, layout: TextLayout::Plain, text, page_starts: Vec::new(), headings: Vec::new(), page_acl: None }
    }

    /// Extracted Markdown, with its heading marks read from the Markdown itself.
    fn markdown(title: Option<String>, text: String) -> Self {
        let headings = markdown::heading_marks(&text);
        let title = title
            .filter(|t| !is_placeholder_title(t))
            .or_else(|| headings.iter().find(|h| h.level == 1).map(|h| h.path.clone()));
        Self { title, layout: TextLayout::Markdown, text, page_starts: Vec::new(), headings, page_acl: None }
    }

    pub fn page_count(&self) -> Option<u32> {
        (!self.page_starts.is_empty()).then_some(self.page_starts.len() as u32)
    }

    /// Whether the text holds anything worth indexing.
    pub fn has_text(&self) -> bool {
        self.text.chars().filter(|c| c.is_alphanumeric()).take(3).count() >= 3
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExtractError {
    #[error("file is empty")]
    Empty,
    #[error("file is {size_mb:.1} MiB, over the {limit_mb} MiB limit (ingest.max_file_mb)")]
    TooLarge { size_mb: f64, limit_mb: u64 },
    #[error("extraction took longer than {0} s (ingest.file_timeout_secs)")]
    Timeout(u64),
    #[error("encrypted PDF: a password is needed to read it")]
    Encrypted,
    #[error("no text layer (a scanned or image-only PDF; OCR is not supported yet)")]
    NoTextLayer,
    #[error("not a valid {kind} file: {reason}")]
    Malformed { kind: DocumentKind, reason: String },
    #[error("binary content in a {0} file")]
    Binary(DocumentKind),
    #[error("{kind} parser crashed: {reason}")]
    ParserCrashed { kind: DocumentKind, reason: String },
    #[error("cannot read file: {0}")]
    Io(String),
    /// The file changed into something that must not be read since it was found.
    #[error("not read: {0}")]
    Refused(String),
    #[error("extraction was stopped")]
    Cancelled,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: u64,
    pub timeout: Duration,
}

/// Extracts text from in-memory bytes of a known kind. No limits: see [`extract_with_limits`].
pub fn extract(bytes: &[u8], kind: DocumentKind) -> Result<Extracted, ExtractError> {
    extract_streaming(bytes, kind, &mut |_| true)
}

/// Like [`extract`], and hands each PDF page to `on_page` as soon as it is extracted, so that work on
/// the first pages of a long PDF can start before the last ones are read. `on_page` returning `false`
/// stops the extraction with [`ExtractError::Cancelled`].
pub fn extract_streaming(
    bytes: &[u8],
    kind: DocumentKind,
    on_page: &mut pdf::PageSink<'_>,
) -> Result<Extracted, ExtractError> {
    if bytes.is_empty() {
        return Err(ExtractError::Empty);
    }
    let extracted = match kind {
        DocumentKind::Pdf => pdf::extract(bytes, on_page)?,
        DocumentKind::Markdown => {
            let (front, body) = markdown::split_front_matter(text::decode(bytes, kind)?);
            Extracted { page_acl: front.acl, ..Extracted::markdown(front.title, body) }
        }
        DocumentKind::Html => {
            let (title, body) = html::to_markdown(&text::decode(bytes, kind)?);
            Extracted::markdown(title, body)
        }
        DocumentKind::Text => Extracted::plain(None, text::normalize(&text::decode(bytes, kind)?)),
        DocumentKind::Docx => {
            let (title, body) = docx::to_markdown(bytes)?;
            Extracted::markdown(title, body)
        }
    };
    if !extracted.has_text() {
        return Err(match kind {
            DocumentKind::Pdf => ExtractError::NoTextLayer,
            _ => ExtractError::Empty,
        });
    }
    Ok(extracted)
}

/// Receives PDF pages during [`extract_with_limits`]; returning `false` stops the extraction.
pub type SendPageSink = Box<dyn FnMut(PdfPage<'_>) -> bool + Send>;

/// Time an extraction spent waiting on whoever consumes its pages. It is not counted against the
/// deadline: a parser throttled by a busy embedder is not a parser that hangs.
#[derive(Debug, Clone, Default)]
pub struct WaitClock(Arc<AtomicU64>);

impl WaitClock {
    pub fn add(&self, waited: Duration) {
        self.0.fetch_add(waited.as_nanos() as u64, Ordering::Relaxed);
    }

    fn total(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }
}

/// Extracts on a thread of its own, so that a parser that loops or crashes costs one file, not the run.
///
/// A parser still running at the deadline is abandoned: the page sink stops it at its next page, and a
/// parser stuck inside one page finishes in the background with its result dropped (threads cannot be
/// killed; the per-file size cap bounds what it can cost).
pub fn extract_with_limits(
    bytes: Vec<u8>,
    kind: DocumentKind,
    limits: Limits,
    mut on_page: SendPageSink,
    waited: WaitClock,
) -> Result<Extracted, ExtractError> {
    check_size(bytes.len() as u64, limits.max_bytes)?;
    let abandoned = Arc::new(AtomicBool::new(false));
    let (done, result) = mpsc::sync_channel(1);
    let stop = abandoned.clone();
    let spawned =
        std::thread::Builder::new().name(EXTRACT_THREAD_NAME.into()).stack_size(EXTRACT_STACK_BYTES).spawn(move || {
            let mut sink = |page: PdfPage<'_>| !stop.load(Ordering::Relaxed) && on_page(page);
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| extract_streaming(&bytes, kind, &mut sink)));
            let _ = done.send(outcome.unwrap_or_else(|panic| {
                Err(ExtractError::ParserCrashed { kind, reason: panic_message(panic.as_ref()) })
            }));
        });
    if let Err(e) = spawned {
        return Err(ExtractError::Io(format!("cannot start an extraction thread: {e}")));
    }
    let started = Instant::now();
    loop {
        match result.recv_timeout(Duration::from_millis(100)) {
            Ok(outcome) => return outcome,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if started.elapsed().saturating_sub(waited.total()) > limits.timeout {
                    abandoned.store(true, Ordering::Relaxed);
                    return Err(ExtractError::Timeout(limits.timeout.as_secs()));
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(ExtractError::ParserCrashed {
                    kind,
                    reason: "extraction thread ended without a result".into(),
                });
            }
        }
    }
}

/// Stack of an extraction thread. Every recursion over a file's structure is bounded (HTML nesting in
/// `html`, PDF object nesting in lopdf's parser, forms and page-tree links in the patched pdf-extract:
/// `vendor/README.md`); this leaves those bounds a wide margin. Only what is touched is allocated.
const EXTRACT_STACK_BYTES: usize = 16 << 20;

/// Threads that run untrusted parsers carry this name, so a panic hook can report their panics as
/// per-file errors instead of crash messages.
pub const EXTRACT_THREAD_NAME: &str = "lore-extract";

pub fn check_size(size: u64, max_bytes: u64) -> Result<(), ExtractError> {
    if size > max_bytes {
        return Err(ExtractError::TooLarge {
            size_mb: size as f64 / (1024.0 * 1024.0),
            limit_mb: max_bytes / (1024 * 1024),
        });
    }
    Ok(())
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Whether a title a file states is a tool's placeholder rather than a name for the document: what
/// PDF producers and office suites write when the author gave none ("Untitled", "Enscript Output",
/// "Microsoft Word - report.docx", "Document1", a file name or path). Such a title would head every
/// search hit, prompt passage and citation of the document, so its first heading or file name is
/// shown instead.
pub fn is_placeholder_title(title: &str) -> bool {
    let lower = title.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let bare = lower.trim_matches(|c: char| !c.is_alphanumeric());
    if bare.chars().filter(|c| c.is_alphanumeric()).count() < 3 {
        return true;
    }
    const EXACT: &[&str] = &[
        "document",
        "title",
        "enscript output",
        "powerpoint presentation",
        "presentation",
        "print",
        "output",
        "no title",
        "none",
        "unknown",
        "default",
        "blank",
        "new document",
        "untitled",
    ];
    const PREFIXES: &[&str] = &[
        "untitled",
        "microsoft word",
        "microsoft powerpoint",
        "microsoft excel",
        "slide 1",
        "title of ",
        "insert title",
    ];
    const FILE_EXTENSIONS: &[&str] = &[
        ".doc", ".docx", ".pdf", ".tex", ".dvi", ".ps", ".txt", ".rtf", ".odt", ".ppt", ".pptx", ".xls", ".xlsx",
        ".indd", ".qxd", ".htm", ".html", ".md", ".tmp", ".eps",
    ];
    let numbered = |word: &str| {
        bare.strip_prefix(word).is_some_and(|rest| !rest.is_empty() && rest.trim().chars().all(|c| c.is_ascii_digit()))
    };
    EXACT.contains(&bare)
        || PREFIXES.iter().any(|p| bare.starts_with(p))
        || numbered("document")
        || numbered("doc")
        || numbered("presentation")
        || FILE_EXTENSIONS.iter().any(|e| bare.ends_with(e.trim_start_matches('.')) && lower.trim_end().ends_with(e))
        || (!lower.contains(' ') && (lower.contains('/') || lower.contains('\\')))
}

/// The title to show when the file itself names none: its file name without extension.
pub fn title_from_path(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().replace(['_', '-'], " ")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producer_placeholders_are_not_titles() {
        for placeholder in [
            "Enscript Output",
            "Microsoft Word - Q3 report.docx",
            "untitled",
            "Untitled-1",
            "Document1",
            "  ",
            "main.dvi",
            "C:\\Users\\jo\\Desktop\\draft",
            "/tmp/print.ps",
            "Slide 1",
            "PowerPoint Presentation",
            "--",
        ] {
            assert!(is_placeholder_title(placeholder), "{placeholder:?}");
        }
        for title in
            ["Documenting R functions", "Writing R Extensions", "VPN setup", "Title IX policy", "The .docx format"]
        {
            assert!(!is_placeholder_title(title), "{title:?}");
        }
        let page = Extracted::markdown(Some("Untitled".into()), "# Leave policy\n\nText.".into());
        assert_eq!(page.title.as_deref(), Some("Leave policy"));
    }

    #[test]
    fn a_panicking_parser_costs_one_file() {
        let limits = Limits { max_bytes: 1 << 20, timeout: Duration::from_secs(5) };
        // Not a PDF at all: must come back as an error, whatever the parser does inside.
        let err = extract_with_limits(
            b"%PDF-1.4\n\x00\x01garbage".to_vec(),
            DocumentKind::Pdf,
            limits,
            Box::new(|_| true),
            WaitClock::default(),
        )
        .unwrap_err();
        assert!(
            matches!(err, ExtractError::Malformed { .. } | ExtractError::ParserCrashed { .. }),
            "unexpected {err:?}"
        );
    }

    #[test]
    fn oversized_and_empty_files_are_refused() {
        let limits = Limits { max_bytes: 10, timeout: Duration::from_secs(5) };
        let err =
            extract_with_limits(vec![b'a'; 11], DocumentKind::Text, limits, Box::new(|_| true), WaitClock::default())
                .unwrap_err();
        assert!(matches!(err, ExtractError::TooLarge { .. }));
        assert_eq!(extract(b"", DocumentKind::Text).unwrap_err(), ExtractError::Empty);
        assert_eq!(extract(b"  \n\t ", DocumentKind::Text).unwrap_err(), ExtractError::Empty);
    }
}
