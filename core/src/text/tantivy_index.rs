//! tantivy on disk in the data directory: one document per chunk.
//!
//! One process writes (it holds tantivy's own writer lock as well as the data directory's); any number
//! read. The writer's deletes and adds become visible together at `commit`, so purging a document and
//! adding its new chunks in the same commit never shows a reader both versions or neither.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, EnableScoring, Occur, PhraseQuery, Query, RangeQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::{
    doc, DocAddress, DocSet, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term, TERMINATED,
};

use super::collector::FilteredTopDocs;
use super::schema::{analyzer, ChunkFields, ANALYZER};
use super::*;
use crate::types::DocumentKind;

/// Memory the writer may buffer before it flushes a segment.
const WRITER_HEAP_BYTES: usize = 128 * 1024 * 1024;
/// Titles say what a document is about more densely than any passage does.
const TITLE_BOOST: f32 = 2.0;
/// Segments an index may have before [`TextIndex::optimize`] merges them into one. Each segment is
/// searched on its own (block-max WAND restarts its threshold in each), so a million chunks in 7
/// segments search about twice as slowly as in one.
const MAX_SEGMENTS: usize = 3;
/// Share of all chunks above which a query word counts as common, in indexes of at least
/// `COMMON_WORDS_FROM` chunks (see `user_query`).
const COMMON_WORD_SHARE: f64 = 0.2;
const COMMON_WORDS_FROM: f64 = 10_000.0;
/// Terms of one query that BM25 ranks by; a pasted page keeps its rarest (most telling) terms, so a
/// 10,000-character query costs about what a sentence does.
const MAX_QUERY_TERMS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Take tantivy's writer lock; fails if another process holds it.
    Write,
    /// Search only; sees what writers commit.
    Read,
}

pub struct TantivyTextIndex {
    index: Index,
    fields: ChunkFields,
    reader: IndexReader,
    writer: Option<Mutex<IndexWriter>>,
    path: PathBuf,
}

impl TantivyTextIndex {
    pub fn open(dir: &Path, mode: OpenMode) -> Result<Self> {
        let open_err = |reason: String| TextError::Open { path: dir.to_path_buf(), reason };
        let (schema, _) = ChunkFields::schema();
        let index = if dir.join("meta.json").exists() {
            Index::open_in_dir(dir).map_err(|e| open_err(e.to_string()))?
        } else {
            std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
            Index::create_in_dir(dir, schema).map_err(|e| open_err(e.to_string()))?
        };
        let fields = ChunkFields::of(&index.schema())
            .map_err(|e| open_err(format!("it was built by another version of lore: {e}")))?;
        index.tokenizers().register(ANALYZER, analyzer());
        let writer = match mode {
            OpenMode::Write => {
                // One indexing thread: ingestion's cores go to extraction and embedding.
                let writer = index
                    .writer_with_num_threads(1, WRITER_HEAP_BYTES)
                    .map_err(|e| open_err(format!("cannot take its writer lock: {e}")))?;
                Some(Mutex::new(writer))
            }
            OpenMode::Read => None,
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()
            .map_err(|e: tantivy::TantivyError| open_err(e.to_string()))?;
        Ok(Self { index, fields, reader, writer, path: dir.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn writer(&self) -> Result<&Mutex<IndexWriter>> {
        self.writer.as_ref().ok_or(TextError::ReadOnly)
    }

    fn filter_clauses(&self, filter: &SearchFilter) -> Vec<(Occur, Box<dyn Query>)> {
        let f = &self.fields;
        // Posting lists read lazily: the collector seeks them only for documents the ranking offers.
        // (A `TermSetQuery` would first materialise every matching document, half the index for
        // `everyone`, on every search.)
        let terms = |field, values: &mut dyn Iterator<Item = &str>| -> Box<dyn Query> {
            let mut any: Vec<(Occur, Box<dyn Query>)> = values
                .map(|v| -> (Occur, Box<dyn Query>) {
                    (Occur::Should, Box::new(TermQuery::new(Term::from_field_text(field, v), IndexRecordOption::Basic)))
                })
                .collect();
            match any.len() {
                1 => any.pop().expect("one clause").1,
                _ => Box::new(BooleanQuery::new(any)),
            }
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if !filter.principals.is_empty() {
            clauses.push((Occur::Must, terms(f.acl, &mut filter.principals.iter().map(String::as_str))));
        }
        if !filter.sources.is_empty() {
            clauses.push((Occur::Must, terms(f.source, &mut filter.sources.iter().map(String::as_str))));
        }
        if !filter.kinds.is_empty() {
            clauses.push((Occur::Must, terms(f.kind, &mut filter.kinds.iter().map(|k| k.as_str()))));
        }
        if filter.modified_after_ms.is_some() || filter.modified_before_ms.is_some() {
            let lower = filter
                .modified_after_ms
                .map_or(Bound::Unbounded, |ms| Bound::Included(Term::from_field_i64(f.modified_ms, ms)));
            let upper = filter
                .modified_before_ms
                .map_or(Bound::Unbounded, |ms| Bound::Excluded(Term::from_field_i64(f.modified_ms, ms)));
            clauses.push((Occur::Must, Box::new(RangeQuery::new(lower, upper))));
        }
        clauses
    }

    /// The chunk id of a hit, read with the searcher that produced the hit (a newer one may number its
    /// segments differently).
    fn chunk_id_of(searcher: &Searcher, address: DocAddress) -> Result<ChunkId> {
        let column = searcher.segment_reader(address.segment_ord).fast_fields().u64("chunk_id")?;
        column
            .first(address.doc_id)
            .map(ChunkId)
            .ok_or_else(|| TextError::Corrupt(format!("chunk document {address:?} has no chunk_id")))
    }

    /// The ranking part of a query: each word in text, title and heading (a flat union of term queries,
    /// which lets tantivy skip blocks that cannot reach the top k), and each quoted phrase required.
    fn user_query(&self, searcher: &Searcher, terms: &QueryTerms) -> Result<Option<Box<dyn Query>>> {
        let f = &self.fields;
        let documents = searcher.num_docs().max(1) as f64;
        let mut by_rarity = Vec::with_capacity(terms.words.len());
        for word in &terms.words {
            let frequency = searcher.doc_freq(&Term::from_field_text(f.text, word))?;
            by_rarity.push((frequency, word.clone()));
        }
        by_rarity.sort();
        // In a large index, a word in a big share of all chunks says little (its idf is near zero) but
        // its posting list is the longest to walk: it is dropped while two rarer words remain, as a
        // stopword would be. (In a small index shares say nothing about the language.)
        let common =
            |frequency: u64| documents >= COMMON_WORDS_FROM && frequency as f64 / documents > COMMON_WORD_SHARE;
        let keep = by_rarity.iter().filter(|(frequency, _)| !common(*frequency)).count().max(2);
        let mut words: Vec<String> =
            by_rarity.into_iter().take(keep.min(MAX_QUERY_TERMS)).map(|(_, word)| word).collect();
        // Query order for readability of explanations; ranking does not depend on it.
        words.sort_by_key(|w| terms.words.iter().position(|t| t == w));
        if words.is_empty() {
            return Ok(None);
        }
        let fields = [(f.text, 1.0), (f.title, TITLE_BOOST), (f.heading, 1.0)];
        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(words.len() * fields.len());
        for word in &words {
            for (field, boost) in fields {
                let term = TermQuery::new(Term::from_field_text(field, word), IndexRecordOption::WithFreqs);
                let query: Box<dyn Query> =
                    if boost == 1.0 { Box::new(term) } else { Box::new(BoostQuery::new(Box::new(term), boost)) };
                should.push((Occur::Should, query));
            }
        }
        let ranked: Box<dyn Query> = Box::new(BooleanQuery::new(should));
        if terms.phrases.is_empty() {
            return Ok(Some(ranked));
        }
        let mut clauses = vec![(Occur::Must, ranked)];
        for phrase in &terms.phrases {
            let in_field = |field: Field| -> (Occur, Box<dyn Query>) {
                let terms = phrase.iter().map(|t| Term::from_field_text(field, t)).collect();
                (Occur::Should, Box::new(PhraseQuery::new(terms)))
            };
            let anywhere = BooleanQuery::new(vec![in_field(f.text), in_field(f.title), in_field(f.heading)]);
            clauses.push((Occur::Must, Box::new(anywhere)));
        }
        Ok(Some(Box::new(BooleanQuery::new(clauses))))
    }

    fn read_chunk(&self, searcher: &Searcher, address: DocAddress) -> Result<IndexedChunk> {
        let f = &self.fields;
        let doc: TantivyDocument = searcher.doc(address)?;
        let corrupt = |what: &str| TextError::Corrupt(format!("chunk document {address:?} has no {what}"));
        let text = |field: Field| doc.get_first(field).and_then(|v| v.as_str().map(str::to_string));
        let number = |field: Field| doc.get_first(field).and_then(|v| v.as_u64());
        let kind = text(f.kind).ok_or_else(|| corrupt("kind"))?;
        let document = DocumentMeta {
            id: DocumentId(number(f.doc_id).ok_or_else(|| corrupt("doc_id"))? as i64),
            source: text(f.source).ok_or_else(|| corrupt("source"))?,
            path: text(f.path).ok_or_else(|| corrupt("path"))?,
            title: text(f.title).unwrap_or_default(),
            kind: DocumentKind::parse(&kind).ok_or_else(|| corrupt("known kind"))?,
            modified_ms: doc.get_first(f.modified_ms).and_then(|v| v.as_i64()).unwrap_or(0),
            acl: doc.get_all(f.acl).filter_map(|v| v.as_str().map(str::to_string)).collect(),
        };
        Ok(IndexedChunk {
            id: ChunkId(number(f.chunk_id).ok_or_else(|| corrupt("chunk_id"))?),
            document,
            text: text(f.text).unwrap_or_default(),
            page: number(f.page).map(|p| p as u32),
            heading: text(f.heading),
            start: number(f.start).unwrap_or(0) as usize,
            end: number(f.end).unwrap_or(0) as usize,
        })
    }

    /// Adds the chunks of a document with the writer the caller holds.
    fn add_with(&self, writer: &IndexWriter, document: &DocumentMeta, chunks: &[Chunk]) -> Result<()> {
        let f = &self.fields;
        for chunk in chunks {
            let mut d = doc!(
                f.chunk_id => chunk.id.0,
                f.doc_id => document.id.0 as u64,
                f.text => chunk.text.as_str(),
                f.title => document.title.as_str(),
                f.path => document.path.as_str(),
                f.source => document.source.as_str(),
                f.kind => document.kind.as_str(),
                f.start => chunk.start as u64,
                f.end => chunk.end as u64,
                f.modified_ms => document.modified_ms,
            );
            for principal in &document.acl {
                d.add_text(f.acl, principal);
            }
            if let Some(page) = chunk.page {
                d.add_u64(f.page, u64::from(page));
            }
            if let Some(heading) = &chunk.heading {
                d.add_text(f.heading, heading);
            }
            writer.add_document(d)?;
        }
        Ok(())
    }
}

impl TextIndex for TantivyTextIndex {
    fn add(&self, document: &DocumentMeta, chunks: &[Chunk]) -> Result<()> {
        let writer = self.writer()?.lock();
        self.add_with(&writer, document, chunks)
    }

    fn relabel(&self, documents: &[DocumentId], acl: &[String]) -> Result<()> {
        let searcher = self.reader.searcher();
        let writer = self.writer()?.lock();
        for &document in documents {
            let id = Term::from_field_u64(self.fields.doc_id, document.0 as u64);
            let addresses = searcher.search(&TermQuery::new(id.clone(), IndexRecordOption::Basic), &DocSetCollector)?;
            let mut meta: Option<DocumentMeta> = None;
            let mut chunks = Vec::with_capacity(addresses.len());
            for address in addresses {
                let stored = self.read_chunk(&searcher, address)?;
                meta.get_or_insert_with(|| DocumentMeta { acl: acl.to_vec(), ..stored.document.clone() });
                chunks.push(Chunk {
                    id: stored.id,
                    ordinal: stored.id.ordinal(),
                    text: stored.text,
                    page: stored.page,
                    heading: stored.heading,
                    start: stored.start,
                    end: stored.end,
                    // Not stored in the index and not needed by it.
                    tokens: 0,
                });
            }
            let Some(meta) = meta else { continue };
            chunks.sort_by_key(|c| c.id);
            // The delete applies to the copies before it only: the new copies come after.
            writer.delete_term(id);
            self.add_with(&writer, &meta, &chunks)?;
        }
        Ok(())
    }

    fn delete_documents(&self, documents: &[DocumentId]) -> Result<()> {
        let writer = self.writer()?.lock();
        for doc in documents {
            writer.delete_term(Term::from_field_u64(self.fields.doc_id, doc.0 as u64));
        }
        Ok(())
    }

    fn commit(&self) -> Result<()> {
        self.writer()?.lock().commit()?;
        // The writer's own process sees its commits at once, not after the reload policy's delay.
        self.reader.reload()?;
        Ok(())
    }

    fn search(&self, query: &str, limit: usize, filter: &SearchFilter) -> Result<Vec<TextHit>> {
        let searcher = self.reader.searcher();
        let Some(user_query) = self.user_query(&searcher, &QueryTerms::parse(query))? else {
            return Ok(Vec::new());
        };
        let clauses = self.filter_clauses(filter);
        let filter = if clauses.is_empty() {
            None
        } else {
            Some(BooleanQuery::new(clauses).weight(EnableScoring::disabled_from_searcher(&searcher))?)
        };
        let top = searcher.search(user_query.as_ref(), &FilteredTopDocs::new(limit, filter))?;
        top.into_iter()
            .take(limit)
            .map(|(score, address)| Ok(TextHit { chunk: Self::chunk_id_of(&searcher, address)?, score }))
            .collect()
    }

    fn optimize(&self) -> Result<bool> {
        let mut writer = self.writer()?.lock();
        let segments = self.index.searchable_segment_ids()?;
        if segments.len() <= MAX_SEGMENTS {
            return Ok(false);
        }
        if let Err(e) = writer.merge(&segments).wait() {
            // Usually tantivy's own background merge holds some of them; it reduces the count as well.
            tracing::debug!(error = %e, "full-text segment merge skipped");
            return Ok(false);
        }
        writer.garbage_collect_files().wait()?;
        drop(writer);
        self.reader.reload()?;
        Ok(true)
    }

    fn fetch(&self, chunks: &[ChunkId]) -> Result<Vec<IndexedChunk>> {
        let searcher = self.reader.searcher();
        let mut found = Vec::with_capacity(chunks.len());
        // One term lookup per id: a set query would walk the whole id column on every search.
        for chunk in chunks {
            let id = TermQuery::new(Term::from_field_u64(self.fields.chunk_id, chunk.0), IndexRecordOption::Basic);
            if let Some((_, address)) = searcher.search(&id, &TopDocs::with_limit(1))?.into_iter().next() {
                found.push(self.read_chunk(&searcher, address)?);
            }
        }
        Ok(found)
    }

    fn chunk_counts(&self) -> Result<BTreeMap<DocumentId, u64>> {
        let searcher = self.reader.searcher();
        let mut counts = BTreeMap::new();
        for segment in searcher.segment_readers() {
            let column = segment.fast_fields().u64("doc_id")?;
            let alive = segment.alive_bitset();
            for doc in 0..segment.max_doc() {
                if alive.is_some_and(|bits| !bits.is_alive(doc)) {
                    continue;
                }
                let id = column.first(doc).map_or(-1, |id| id as i64);
                *counts.entry(DocumentId(id)).or_insert(0) += 1;
            }
        }
        Ok(counts)
    }

    fn acl_labels(&self) -> Result<BTreeMap<DocumentId, BTreeSet<Vec<String>>>> {
        let searcher = self.reader.searcher();
        let mut labels: BTreeMap<DocumentId, BTreeSet<Vec<String>>> = BTreeMap::new();
        for segment in searcher.segment_readers() {
            // The ACL is indexed, not a fast field: walk each principal's posting list (cheap) rather
            // than loading every stored chunk.
            let inverted = segment.inverted_index(self.fields.acl)?;
            let mut principals: Vec<String> = Vec::new();
            let mut held: Vec<Vec<u32>> = vec![Vec::new(); segment.max_doc() as usize];
            let mut terms = inverted.terms().stream().map_err(tantivy::TantivyError::from)?;
            while terms.advance() {
                let index = principals.len() as u32;
                principals.push(String::from_utf8_lossy(terms.key()).into_owned());
                let mut postings = inverted
                    .read_postings_from_terminfo(terms.value(), IndexRecordOption::Basic)
                    .map_err(tantivy::TantivyError::from)?;
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    held[doc as usize].push(index);
                    doc = postings.advance();
                }
            }
            let ids = segment.fast_fields().u64("doc_id")?;
            let alive = segment.alive_bitset();
            for (doc, indexes) in held.into_iter().enumerate() {
                let doc = doc as u32;
                if alive.is_some_and(|bits| !bits.is_alive(doc)) {
                    continue;
                }
                let mut acl: Vec<String> = indexes.into_iter().map(|i| principals[i as usize].clone()).collect();
                acl.sort();
                acl.dedup();
                let id = ids.first(doc).map_or(-1, |id| id as i64);
                labels.entry(DocumentId(id)).or_default().insert(acl);
            }
        }
        Ok(labels)
    }

    fn len(&self) -> Result<u64> {
        let searcher = self.reader.searcher();
        Ok(searcher.search(&tantivy::query::AllQuery, &Count)? as u64)
    }
}
