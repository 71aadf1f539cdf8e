//! The tantivy schema of a chunk, and the analyzer its text goes through.

use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer,
};

/// Name of the analyzer registered on every opened index.
pub const ANALYZER: &str = "lore_en";

/// Fields of one chunk document. Ids are fast fields so that purges and consistency checks never load
/// stored documents.
#[derive(Debug, Clone, Copy)]
pub struct ChunkFields {
    pub chunk_id: Field,
    pub doc_id: Field,
    pub text: Field,
    pub title: Field,
    pub path: Field,
    pub heading: Field,
    pub source: Field,
    pub kind: Field,
    pub acl: Field,
    pub page: Field,
    pub start: Field,
    pub end: Field,
    pub modified_ms: Field,
}

impl ChunkFields {
    pub fn schema() -> (Schema, ChunkFields) {
        let mut builder = Schema::builder();
        let analyzed = TextOptions::default().set_stored().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let stored_u64 = NumericOptions::default().set_stored();
        let fields = ChunkFields {
            chunk_id: builder.add_u64_field("chunk_id", INDEXED | STORED | FAST),
            doc_id: builder.add_u64_field("doc_id", INDEXED | STORED | FAST),
            text: builder.add_text_field("text", analyzed.clone()),
            title: builder.add_text_field("title", analyzed.clone()),
            path: builder.add_text_field("path", analyzed.clone()),
            heading: builder.add_text_field("heading", analyzed),
            source: builder.add_text_field("source", STRING | STORED | FAST),
            kind: builder.add_text_field("kind", STRING | STORED | FAST),
            acl: builder.add_text_field("acl", STRING | STORED),
            page: builder.add_u64_field("page", stored_u64.clone()),
            start: builder.add_u64_field("start", stored_u64.clone()),
            end: builder.add_u64_field("end", stored_u64),
            modified_ms: builder.add_i64_field("modified_ms", INDEXED | STORED | FAST),
        };
        (builder.build(), fields)
    }

    /// Resolves the fields of an existing index, failing if it was built with another schema.
    pub fn of(schema: &Schema) -> tantivy::Result<ChunkFields> {
        let f = |name: &str| schema.get_field(name);
        Ok(ChunkFields {
            chunk_id: f("chunk_id")?,
            doc_id: f("doc_id")?,
            text: f("text")?,
            title: f("title")?,
            path: f("path")?,
            heading: f("heading")?,
            source: f("source")?,
            kind: f("kind")?,
            acl: f("acl")?,
            page: f("page")?,
            start: f("start")?,
            end: f("end")?,
            modified_ms: f("modified_ms")?,
        })
    }
}

/// Words, lower-cased, accents folded, English-stemmed; tokens over 40 bytes (hashes, base64) dropped.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// A word of some text as the index sees it: its indexed form and where it sits in the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyzedToken {
    /// Lower-cased, folded, stemmed.
    pub term: String,
    /// Byte offsets in the analysed text.
    pub start: usize,
    pub end: usize,
}

/// Runs `text` through the index's analyzer: the same terms the index holds for it.
pub fn analyze(text: &str) -> Vec<AnalyzedToken> {
    let mut tokens = Vec::new();
    for_each_term(text, |term, start, end| tokens.push(AnalyzedToken { term: term.to_string(), start, end }));
    tokens
}

/// Like [`analyze`] without building the list: `visit(term, start, end)` for each term, in order.
pub fn for_each_term(text: &str, mut visit: impl FnMut(&str, usize, usize)) {
    thread_local! {
        // Building an analyzer (its stemmer included) costs more than analysing a short passage.
        static ANALYZER: std::cell::RefCell<TextAnalyzer> = std::cell::RefCell::new(analyzer());
    }
    ANALYZER.with_borrow_mut(|analyzer| {
        let mut stream = analyzer.token_stream(text);
        while let Some(token) = stream.next() {
            visit(&token.text, token.offset_from, token.offset_to);
        }
    });
}

/// English function words. They match nearly every chunk, so BM25 drops them from a query that has other
/// words (they add little but cost a scan of most of the index), and snippets do not highlight them.
const STOPWORDS: &[&str] = &[
    "a", "about", "all", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do",
    "does", "for", "from", "had", "has", "have", "he", "her", "his", "how", "i", "if", "in", "into", "is", "it", "its",
    "me", "my", "no", "not", "of", "on", "or", "our", "she", "so", "some", "such", "than", "that", "the", "their",
    "them", "then", "there", "these", "they", "this", "those", "to", "was", "we", "were", "what", "when", "where",
    "which", "who", "whom", "whose", "why", "will", "with", "would", "you", "your",
];

/// Whether an analysed term is an English function word.
pub fn is_stopword(term: &str) -> bool {
    // In analysed form, as terms arrive here: "does" is "doe" after stemming.
    static ANALYSED: std::sync::LazyLock<std::collections::HashSet<String>> =
        // A fresh analyzer: this may first run inside `for_each_term`'s callback, which holds the
        // thread's own analyzer.
        std::sync::LazyLock::new(|| {
            let mut analyzer = analyzer();
            let mut terms = std::collections::HashSet::new();
            for word in STOPWORDS {
                let mut stream = analyzer.token_stream(word);
                while let Some(token) = stream.next() {
                    terms.insert(token.text.clone());
                }
            }
            terms
        });
    ANALYSED.contains(term)
}
