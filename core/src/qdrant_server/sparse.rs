//! Text to BM25 sparse vectors, with the analyzer tantivy indexes with (the same words, stems and
//! stopwords in both modes). A document's weight for a term is BM25's term-frequency part,
//! `tf (k1 + 1) / (tf + k1 (1 - b + b len / avg_len))`; the server multiplies it by the term's IDF
//! over the collection (the `idf` modifier), and a query is its distinct terms with weight 1, so the
//! dot product the server ranks by is the BM25 score.

use std::collections::BTreeMap;

use crate::text::{for_each_term, QueryTerms};

/// A sparse vector: ascending term ids and their weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseTerms {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseTerms {
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Bm25Encoder {
    k1: f32,
    b: f32,
    /// Expected terms per chunk: about what the default chunk size (`chunking.target_tokens`, in word
    /// pieces) comes to in analysed words.
    avg_len: f32,
}

impl Default for Bm25Encoder {
    fn default() -> Self {
        Self { k1: 1.2, b: 0.75, avg_len: 150.0 }
    }
}

/// How many times a title's words count, as tantivy boosts its title field.
const TITLE_REPEATS: u32 = 2;

impl Bm25Encoder {
    /// A chunk's text, heading path and its document's title as one bag of terms.
    pub fn document(&self, text: &str, heading: Option<&str>, title: &str) -> SparseTerms {
        let mut counts: BTreeMap<u32, u32> = BTreeMap::new();
        let mut length = 0u32;
        let mut count = |piece: &str, times: u32| {
            for_each_term(piece, |term, _, _| {
                *counts.entry(term_id(term)).or_insert(0) += times;
                length += times;
            })
        };
        count(text, 1);
        if let Some(heading) = heading {
            count(heading, 1);
        }
        count(title, TITLE_REPEATS);
        let norm = self.k1 * (1.0 - self.b + self.b * length as f32 / self.avg_len);
        let (indices, values) = counts
            .into_iter()
            .map(|(id, tf)| {
                let tf = tf as f32;
                (id, tf * (self.k1 + 1.0) / (tf + norm))
            })
            .unzip();
        SparseTerms { indices, values }
    }

    /// A user's query: its distinct words (stopwords dropped as tantivy drops them), weight 1 each.
    pub fn query(&self, query: &QueryTerms) -> SparseTerms {
        let mut indices: Vec<u32> = query.words.iter().map(|w| term_id(w)).collect();
        indices.sort_unstable();
        indices.dedup();
        let values = vec![1.0; indices.len()];
        SparseTerms { indices, values }
    }
}

/// A term's dimension: FNV-1a over its bytes, fixed forever (stored vectors depend on it).
fn term_id(term: &str) -> u32 {
    term.bytes().fold(0x811c_9dc5u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_ids_are_stable() {
        // Stored points depend on these values: they must never change.
        assert_eq!(term_id(""), 0x811c_9dc5);
        assert_eq!(term_id("a"), 0xe40c_292c);
        assert_eq!(term_id("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn document_weights_follow_bm25_saturation_and_length() {
        let bm25 = Bm25Encoder::default();
        let once = bm25.document("printer", None, "");
        let thrice = bm25.document("printer printer printer", None, "");
        assert_eq!(once.indices, thrice.indices);
        assert!(thrice.values[0] > once.values[0], "more occurrences weigh more");
        assert!(thrice.values[0] < 3.0 * once.values[0] * 1.01, "but saturate");
        let long = bm25.document(&format!("printer {}", "toner ".repeat(400)), None, "");
        let printer = long.indices.iter().position(|&i| i == term_id("printer")).unwrap();
        assert!(long.values[printer] < once.values[0], "one word in a long chunk weighs less");
    }

    #[test]
    fn analysis_matches_the_text_index() {
        let bm25 = Bm25Encoder::default();
        let doc = bm25.document("Installing the Printers", Some("Setup"), "Office");
        let query = bm25.query(&QueryTerms::parse("how do I install a printer?"));
        assert!(query.indices.iter().all(|i| doc.indices.contains(i)), "stems meet: {query:?} in {doc:?}");
        assert_eq!(query.indices.len(), 2, "stopwords dropped from the query");
        let titled = bm25.document("text", None, "office");
        let office = titled.indices.iter().position(|&i| i == term_id("offic")).unwrap();
        let plain = bm25.document("text office", None, "");
        let plain_office = plain.indices.iter().position(|&i| i == term_id("offic")).unwrap();
        assert!(titled.values[office] > plain.values[plain_office], "title words count twice");
    }

    #[test]
    fn text_without_words_is_empty() {
        let bm25 = Bm25Encoder::default();
        assert!(bm25.document("  ,,, !!", None, "").is_empty());
        assert!(bm25.query(&QueryTerms::parse("\"\" ??")).is_empty());
    }
}
