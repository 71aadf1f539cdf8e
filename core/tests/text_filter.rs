//! The full-text index's filtered search returns exactly the top-k of the documents the filter allows:
//! the same as ranking everything and keeping the allowed ones, for every kind of filter.

use std::collections::HashMap;

use lore_core::text::{OpenMode, TantivyTextIndex, TextIndex};
use lore_core::{Chunk, ChunkId, DocumentId, DocumentKind, DocumentMeta, SearchFilter, EVERYONE};

const WORDS: [&str; 24] = [
    "printer", "toner", "vpn", "password", "badge", "invoice", "travel", "budget", "server", "backup", "laptop",
    "policy", "holiday", "salary", "report", "meeting", "office", "network", "security", "training", "contract",
    "supplier", "expense", "manual",
];

/// A linear congruential generator: the same corpus on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn corpus(index: &TantivyTextIndex) -> HashMap<ChunkId, DocumentMeta> {
    let mut rng = Lcg(7);
    let mut metas = HashMap::new();
    for n in 0..3000 {
        let text: Vec<&str> = (0..8 + rng.below(30)).map(|_| WORDS[rng.below(WORDS.len())]).collect();
        let acl = match rng.below(3) {
            0 => vec![EVERYONE.to_string()],
            1 => vec!["hr".to_string()],
            _ => vec!["eng".to_string(), "ops".to_string()],
        };
        let meta = DocumentMeta {
            id: DocumentId(n + 1),
            source: ["wiki", "drive"][rng.below(2)].into(),
            path: format!("doc-{n}.md"),
            title: WORDS[rng.below(WORDS.len())].into(),
            kind: [DocumentKind::Pdf, DocumentKind::Markdown][rng.below(2)],
            modified_ms: rng.below(1000) as i64,
            acl,
        };
        let text = text.join(" ");
        let chunk = Chunk {
            id: ChunkId::new(meta.id, 0).unwrap(),
            ordinal: 0,
            end: text.len(),
            text,
            page: None,
            heading: None,
            start: 0,
            tokens: 0,
        };
        index.add(&meta, std::slice::from_ref(&chunk)).unwrap();
        metas.insert(chunk.id, meta);
        if n % 1000 == 999 {
            index.commit().unwrap(); // several segments
        }
    }
    metas
}

fn allows(filter: &SearchFilter, meta: &DocumentMeta) -> bool {
    (filter.principals.is_empty() || meta.acl.iter().any(|p| filter.principals.contains(p)))
        && (filter.sources.is_empty() || filter.sources.contains(&meta.source))
        && (filter.kinds.is_empty() || filter.kinds.contains(&meta.kind))
        && filter.modified_after_ms.is_none_or(|after| meta.modified_ms >= after)
        && filter.modified_before_ms.is_none_or(|before| meta.modified_ms < before)
}

#[test]
fn filtered_top_k_equals_the_top_k_of_the_allowed_documents() {
    let dir = tempfile::tempdir().unwrap();
    let index = TantivyTextIndex::open(dir.path(), OpenMode::Write).unwrap();
    let metas = corpus(&index);
    let filters = [
        SearchFilter { principals: vec![EVERYONE.into()], ..Default::default() },
        SearchFilter { principals: vec![EVERYONE.into(), "ops".into()], ..Default::default() },
        SearchFilter { principals: vec!["nobody".into()], ..Default::default() },
        SearchFilter { sources: vec!["drive".into()], kinds: vec![DocumentKind::Pdf], ..Default::default() },
        SearchFilter { modified_after_ms: Some(200), modified_before_ms: Some(300), ..Default::default() },
        SearchFilter {
            principals: vec!["hr".into()],
            sources: vec!["wiki".into()],
            modified_after_ms: Some(500),
            ..Default::default()
        },
    ];
    let mut rng = Lcg(11);
    for q in 0..40 {
        let query: Vec<&str> = (0..1 + q % 3).map(|_| WORDS[rng.below(WORDS.len())]).collect();
        let query = query.join(" ");
        let everything = index.search(&query, 10_000, &SearchFilter::default()).unwrap();
        for filter in &filters {
            let expected: Vec<_> = everything.iter().filter(|h| allows(filter, &metas[&h.chunk])).take(10).collect();
            let found = index.search(&query, 10, filter).unwrap();
            assert_eq!(found.len(), expected.len(), "{query:?} {filter:?}");
            for (got, want) in found.iter().zip(&expected) {
                assert!((got.score - want.score).abs() < 1e-5, "{query:?} {filter:?}: {got:?} vs {want:?}");
                assert!(allows(filter, &metas[&got.chunk]), "{query:?} {filter:?} let through {:?}", metas[&got.chunk]);
            }
        }
    }
}
