//! The index contract: what ingestion and retrieval rely on from a text index and a vector store,
//! checked on both layouts: the embedded pair (tantivy + Qdrant Edge, in a temporary directory) and a
//! Qdrant server holding both (when `LORE_TEST_QDRANT_URL` names one: each test makes its own collection
//! and deletes it). Without a server, the server half is skipped and says so; the paths that need no
//! server (a server that is down, one that never answers) run always, as does a larger tantivy-only
//! check of filtering across segments.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lore_core::qdrant_server::{QdrantServerIndex, ServerSettings};
use lore_core::text::{OpenMode, TantivyTextIndex, TextIndex};
use lore_core::vectors::{EdgeVectorIndex, VectorIndex, VectorPoint};
use lore_core::{Chunk, ChunkId, DocumentId, DocumentKind, DocumentMeta, SearchFilter, EVERYONE};

const DIMENSIONS: usize = 16;

struct Indexes {
    name: &'static str,
    text: Arc<dyn TextIndex>,
    vectors: Arc<dyn VectorIndex>,
    _cleanup: Cleanup,
}

enum Cleanup {
    Directory(#[allow(dead_code)] tempfile::TempDir),
    Collection(Arc<QdrantServerIndex>),
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Cleanup::Collection(index) = self {
            if let Err(error) = index.delete_collection() {
                eprintln!("could not delete test collection {}: {error}", index.collection());
            }
        }
    }
}

impl Indexes {
    fn persist(&self) {
        self.text.commit().unwrap();
        self.vectors.flush().unwrap();
    }
}

fn embedded() -> Indexes {
    let dir = tempfile::tempdir().unwrap();
    let text = TantivyTextIndex::open(&dir.path().join("text"), OpenMode::Write).unwrap();
    let vectors = EdgeVectorIndex::open(&dir.path().join("vectors"), DIMENSIONS).unwrap();
    Indexes { name: "embedded", text: Arc::new(text), vectors: Arc::new(vectors), _cleanup: Cleanup::Directory(dir) }
}

fn server_url() -> Option<String> {
    std::env::var("LORE_TEST_QDRANT_URL").ok().filter(|url| !url.is_empty())
}

fn settings(url: &str, collection: String) -> ServerSettings {
    ServerSettings {
        url: url.to_string(),
        api_key: std::env::var("LORE_TEST_QDRANT_API_KEY").ok(),
        collection,
        dimensions: DIMENSIONS,
        on_disk: false,
        batch_size: 64,
        timeout: Duration::from_secs(10),
        retries: 2,
    }
}

/// A collection no other test (nor run) uses.
fn fresh_collection() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("lore_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

fn server() -> Option<Indexes> {
    let Some(url) = server_url() else {
        eprintln!("SKIPPED the Qdrant server half: set LORE_TEST_QDRANT_URL=http://127.0.0.1:6334 to run it");
        return None;
    };
    let index = Arc::new(QdrantServerIndex::connect(settings(&url, fresh_collection())).unwrap());
    Some(Indexes { name: "server", text: index.clone(), vectors: index.clone(), _cleanup: Cleanup::Collection(index) })
}

fn layouts() -> Vec<Indexes> {
    std::iter::once(embedded()).chain(server()).collect()
}

/// A deterministic generator: the same corpus on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }

    fn vector(&mut self) -> Vec<f32> {
        let v: Vec<f32> = (0..DIMENSIONS).map(|_| self.below(2001) as f32 / 1000.0 - 1.0).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
        v.into_iter().map(|x| x / norm).collect()
    }
}

const WORDS: [&str; 24] = [
    "printer", "toner", "vpn", "password", "badge", "invoice", "travel", "budget", "server", "backup", "laptop",
    "policy", "holiday", "salary", "report", "meeting", "office", "network", "security", "training", "contract",
    "supplier", "expense", "manual",
];

struct Doc {
    meta: DocumentMeta,
    chunks: Vec<Chunk>,
    vectors: Vec<Vec<f32>>,
}

fn document(id: i64, acl: &[&str], texts: &[&str], rng: &mut Lcg) -> Doc {
    let meta = DocumentMeta {
        id: DocumentId(id),
        source: if id % 2 == 0 { "wiki" } else { "drive" }.into(),
        path: format!("folder/doc-{id}.md"),
        title: format!("Document {id}"),
        kind: if id % 3 == 0 { DocumentKind::Pdf } else { DocumentKind::Markdown },
        modified_ms: 1_700_000_000_000 + id * 1000,
        acl: acl.iter().map(|p| p.to_string()).collect(),
    };
    let mut start = 0;
    let chunks = texts
        .iter()
        .enumerate()
        .map(|(n, text)| {
            let chunk = Chunk {
                id: ChunkId::new(meta.id, n as u32).unwrap(),
                ordinal: n as u32,
                text: text.to_string(),
                page: (meta.kind == DocumentKind::Pdf).then_some(n as u32 + 1),
                heading: (meta.kind == DocumentKind::Markdown).then(|| format!("Part {n}")),
                start,
                end: start + text.chars().count(),
                tokens: 10,
            };
            start = chunk.end;
            chunk
        })
        .collect::<Vec<_>>();
    let vectors = chunks.iter().map(|_| rng.vector()).collect();
    Doc { meta, chunks, vectors }
}

/// Writes as the sync does: text first, then vectors.
fn write(indexes: &Indexes, doc: &Doc) {
    indexes.text.add(&doc.meta, &doc.chunks).unwrap();
    let points: Vec<VectorPoint<'_>> = doc
        .chunks
        .iter()
        .zip(&doc.vectors)
        .map(|(chunk, vector)| VectorPoint { document: &doc.meta, chunk, vector })
        .collect();
    indexes.vectors.upsert(&points).unwrap();
}

fn random_corpus(indexes: &Indexes, documents: i64) -> HashMap<ChunkId, (DocumentMeta, Vec<f32>)> {
    let mut rng = Lcg(7);
    let mut all = HashMap::new();
    for id in 1..=documents {
        let acl: &[&str] = match rng.below(3) {
            0 => &[EVERYONE],
            1 => &["hr"],
            _ => &["eng", "ops"],
        };
        let texts: Vec<String> = (0..1 + rng.below(3))
            .map(|_| (0..5 + rng.below(20)).map(|_| WORDS[rng.below(WORDS.len())]).collect::<Vec<_>>().join(" "))
            .collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let doc = document(id, acl, &texts, &mut rng);
        write(indexes, &doc);
        for (chunk, vector) in doc.chunks.iter().zip(&doc.vectors) {
            all.insert(chunk.id, (doc.meta.clone(), vector.clone()));
        }
    }
    indexes.persist();
    all
}

fn allows(filter: &SearchFilter, meta: &DocumentMeta) -> bool {
    (filter.principals.is_empty() || meta.acl.iter().any(|p| filter.principals.contains(p)))
        && (filter.sources.is_empty() || filter.sources.contains(&meta.source))
        && (filter.kinds.is_empty() || filter.kinds.contains(&meta.kind))
        && filter.modified_after_ms.is_none_or(|after| meta.modified_ms >= after)
        && filter.modified_before_ms.is_none_or(|before| meta.modified_ms < before)
}

fn filters() -> Vec<SearchFilter> {
    vec![
        SearchFilter { principals: vec![EVERYONE.into()], ..Default::default() },
        SearchFilter { principals: vec![EVERYONE.into(), "ops".into()], ..Default::default() },
        SearchFilter { principals: vec!["nobody".into()], ..Default::default() },
        SearchFilter { sources: vec!["drive".into()], kinds: vec![DocumentKind::Pdf], ..Default::default() },
        SearchFilter {
            principals: vec!["hr".into()],
            modified_after_ms: Some(1_700_000_050_000),
            modified_before_ms: Some(1_700_000_200_000),
            ..Default::default()
        },
    ]
}

#[test]
fn what_was_written_is_found_by_words_and_by_vector_and_read_back_whole() {
    for indexes in layouts() {
        let mut rng = Lcg(3);
        let printer =
            document(3, &[EVERYONE], &["The printer on floor two needs toner", "Badges open doors"], &mut rng);
        let vpn = document(4, &["eng"], &["Connect to the VPN before opening the wiki"], &mut rng);
        write(&indexes, &printer);
        write(&indexes, &vpn);
        indexes.persist();
        let everyone = SearchFilter { principals: vec![EVERYONE.into()], ..Default::default() };
        let name = indexes.name;

        let hits = indexes.text.search("printers", 10, &everyone).unwrap();
        assert_eq!(hits.first().map(|h| h.chunk), Some(printer.chunks[0].id), "{name}: {hits:?}");
        assert!(indexes.text.search("vpn", 10, &everyone).unwrap().is_empty(), "{name}: the ACL applies");
        assert!(indexes.text.search("?? ,,", 10, &everyone).unwrap().is_empty(), "{name}: no words, no hits");

        let nearest = indexes.vectors.search(&vpn.vectors[0], 1, &SearchFilter::default()).unwrap();
        assert_eq!(nearest[0].chunk, vpn.chunks[0].id, "{name}");
        assert!((nearest[0].score - 1.0).abs() < 1e-3, "{name}: cosine of a vector with itself: {}", nearest[0].score);

        let mut fetched = indexes.text.fetch(&[printer.chunks[0].id, printer.chunks[1].id, ChunkId(999)]).unwrap();
        fetched.sort_by_key(|c| c.id);
        assert_eq!(fetched.len(), 2, "{name}: unknown ids are left out");
        let first = &fetched[0];
        assert_eq!(first.document, printer.meta, "{name}");
        assert_eq!(
            (first.text.as_str(), first.page, first.heading.clone(), first.start, first.end),
            (
                printer.chunks[0].text.as_str(),
                printer.chunks[0].page,
                printer.chunks[0].heading.clone(),
                printer.chunks[0].start,
                printer.chunks[0].end
            ),
            "{name}"
        );
        assert_eq!(indexes.text.len().unwrap(), 3, "{name}");
        assert_eq!(indexes.vectors.len().unwrap(), 3, "{name}");
        let counts = BTreeMap::from([(DocumentId(3), 2), (DocumentId(4), 1)]);
        assert_eq!(indexes.text.chunk_counts().unwrap(), counts, "{name}");
        assert_eq!(indexes.vectors.chunk_counts().unwrap(), counts, "{name}");
    }
}

#[test]
fn filters_apply_before_ranking_in_both_searches() {
    for indexes in layouts() {
        let name = indexes.name;
        let corpus = random_corpus(&indexes, 150);
        let mut rng = Lcg(11);
        for q in 0..12 {
            let words: Vec<&str> = (0..1 + q % 3).map(|_| WORDS[rng.below(WORDS.len())]).collect();
            let query = words.join(" ");
            let everything = indexes.text.search(&query, 10_000, &SearchFilter::default()).unwrap();
            let vector = rng.vector();
            let all_nearest = indexes.vectors.search(&vector, 10_000, &SearchFilter::default()).unwrap();
            assert_eq!(all_nearest.len(), corpus.len(), "{name}: an unfiltered search ranks every chunk");
            for filter in filters() {
                let allowed = |chunk: &ChunkId| allows(&filter, &corpus[chunk].0);
                let expected: Vec<_> = everything.iter().filter(|h| allowed(&h.chunk)).take(10).collect();
                let found = indexes.text.search(&query, 10, &filter).unwrap();
                assert_eq!(found.len(), expected.len(), "{name} {query:?} {filter:?}");
                for (got, want) in found.iter().zip(&expected) {
                    assert!(allowed(&got.chunk), "{name} {query:?} {filter:?} let through {:?}", corpus[&got.chunk].0);
                    assert!(
                        (got.score - want.score).abs() < 1e-4 * want.score.abs().max(1.0),
                        "{name}: {got:?} vs {want:?}"
                    );
                }
                let expected: Vec<_> = all_nearest.iter().filter(|h| allowed(&h.chunk)).take(10).collect();
                let found = indexes.vectors.search(&vector, 10, &filter).unwrap();
                assert_eq!(found.len(), expected.len(), "{name} {filter:?}");
                for (got, want) in found.iter().zip(&expected) {
                    assert!(allowed(&got.chunk), "{name} {filter:?} let through {:?}", corpus[&got.chunk].0);
                    assert!((got.score - want.score).abs() < 1e-4, "{name}: {got:?} vs {want:?}");
                }
            }
        }
    }
}

#[test]
fn deletes_and_relabels_reach_every_chunk_of_a_document_and_nothing_else() {
    for indexes in layouts() {
        let name = indexes.name;
        let corpus = random_corpus(&indexes, 60);
        let total = corpus.len() as u64;
        let doc_chunks = |id: i64| corpus.keys().filter(|c| c.document() == DocumentId(id)).count() as u64;

        indexes.text.delete_documents(&[DocumentId(5)]).unwrap();
        indexes.vectors.delete_documents(&[DocumentId(5)]).unwrap();
        indexes.persist();
        let gone = doc_chunks(5);
        assert_eq!(indexes.text.len().unwrap(), total - gone, "{name}");
        assert_eq!(indexes.vectors.len().unwrap(), total - gone, "{name}");
        assert!(!indexes.vectors.chunk_counts().unwrap().contains_key(&DocumentId(5)), "{name}");

        let acl = vec!["group:legal".to_string()];
        indexes.text.relabel(&[DocumentId(6), DocumentId(7)], &acl).unwrap();
        indexes.vectors.relabel(&[DocumentId(6), DocumentId(7)], &acl).unwrap();
        indexes.persist();
        let legal = SearchFilter { principals: acl.clone(), ..Default::default() };
        let expected: BTreeSet<ChunkId> = corpus.keys().filter(|c| [6, 7].contains(&c.document().0)).copied().collect();
        let by_words: BTreeSet<ChunkId> =
            WORDS.iter().flat_map(|word| indexes.text.search(word, 1000, &legal).unwrap()).map(|h| h.chunk).collect();
        assert_eq!(by_words, expected, "{name}: the new ACL finds exactly the relabelled chunks");
        let by_vector: BTreeSet<ChunkId> =
            indexes.vectors.search(&Lcg(1).vector(), 1000, &legal).unwrap().into_iter().map(|h| h.chunk).collect();
        assert_eq!(by_vector, expected, "{name}");
        for labels in [indexes.text.acl_labels().unwrap(), indexes.vectors.acl_labels().unwrap()] {
            assert_eq!(labels[&DocumentId(6)], BTreeSet::from([acl.clone()]), "{name}");
            let mut old = corpus.values().find(|(m, _)| m.id == DocumentId(8)).unwrap().0.acl.clone();
            old.sort();
            assert_eq!(labels[&DocumentId(8)], BTreeSet::from([old]), "{name}: others keep theirs");
        }
        let fetched = indexes.text.fetch(&expected.iter().copied().collect::<Vec<_>>()).unwrap();
        assert!(fetched.iter().all(|c| c.document.acl == acl), "{name}: stored fields carry the new ACL");

        let one = *expected.iter().next().unwrap();
        indexes.vectors.delete_chunks(&[one]).unwrap();
        indexes.text.delete_documents(&[one.document()]).unwrap();
        indexes.persist();
        assert!(!indexes.vectors.chunk_ids().unwrap().contains(&one), "{name}");
    }
}

#[test]
fn vectors_of_the_wrong_size_are_refused() {
    for indexes in layouts() {
        let mut rng = Lcg(5);
        let doc = document(9, &[EVERYONE], &["short text"], &mut rng);
        indexes.text.add(&doc.meta, &doc.chunks).unwrap();
        let wrong = vec![0.5f32; DIMENSIONS + 1];
        let point = VectorPoint { document: &doc.meta, chunk: &doc.chunks[0], vector: &wrong };
        let error = indexes.vectors.upsert(&[point]).unwrap_err().to_string();
        assert!(error.contains("dimensions"), "{}: {error}", indexes.name);
        assert!(indexes.vectors.search(&wrong, 5, &SearchFilter::default()).is_err(), "{}", indexes.name);
    }
}

#[test]
fn a_server_collection_is_shared_by_every_process_and_checked_on_connect() {
    let Some(url) = server_url() else {
        eprintln!("SKIPPED: set LORE_TEST_QDRANT_URL to run the Qdrant server tests");
        return;
    };
    let collection = fresh_collection();
    let first = Arc::new(QdrantServerIndex::connect(settings(&url, collection.clone())).unwrap());
    let indexes = Indexes {
        name: "server",
        text: first.clone(),
        vectors: first.clone(),
        _cleanup: Cleanup::Collection(first.clone()),
    };
    let mut rng = Lcg(2);
    let doc = document(10, &[EVERYONE], &["travel budget policy"], &mut rng);
    write(&indexes, &doc);

    // A second process (a web replica) sees the first one's writes at once.
    let second = QdrantServerIndex::connect(settings(&url, collection.clone())).unwrap();
    let hits = TextIndex::search(&second, "travel", 5, &SearchFilter::default()).unwrap();
    assert_eq!(hits.first().map(|h| h.chunk), Some(doc.chunks[0].id));

    // Several processes starting at once all find the collection ready.
    let racing = fresh_collection();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let settings = settings(&url, racing.clone());
            std::thread::spawn(move || QdrantServerIndex::connect(settings).map(|_| ()))
        })
        .collect();
    for handle in handles {
        handle.join().unwrap().expect("a concurrent start must succeed");
    }
    QdrantServerIndex::connect(settings(&url, racing)).unwrap().delete_collection().unwrap();

    // A collection made for another embedding size is refused with a reason.
    let mut other = settings(&url, collection);
    other.dimensions = DIMENSIONS * 2;
    let error = QdrantServerIndex::connect(other).err().expect("a size mismatch is an error").to_string();
    assert!(error.contains("dimensions"), "{error}");

    // A dense vector for a chunk the text side never wrote is an error, not a point without payload.
    let orphan = document(11, &[EVERYONE], &["orphan"], &mut rng);
    let point = VectorPoint { document: &orphan.meta, chunk: &orphan.chunks[0], vector: &orphan.vectors[0] };
    assert!(VectorIndex::upsert(&second, &[point]).is_err());
}

#[test]
fn a_bulk_load_on_the_server_writes_words_vector_and_payload_in_one_request() {
    let Some(url) = server_url() else {
        eprintln!("SKIPPED: set LORE_TEST_QDRANT_URL to run the Qdrant server tests");
        return;
    };
    let index = Arc::new(QdrantServerIndex::connect(settings(&url, fresh_collection())).unwrap());
    let _cleanup = Cleanup::Collection(index.clone());
    let mut rng = Lcg(12);
    let docs: Vec<Doc> = (1..=150)
        .map(|id| {
            let acl: &[&str] = if id % 2 == 0 { &[EVERYONE] } else { &["eng"] };
            let unique = if id == 42 { "zanzibar" } else { "" };
            document(id, acl, &[&format!("bulk chunk about {} {unique}", WORDS[id as usize % WORDS.len()])], &mut rng)
        })
        .collect();
    // 150 points in batches of 64: three requests, the last one partial.
    let points: Vec<VectorPoint<'_>> =
        docs.iter().map(|d| VectorPoint { document: &d.meta, chunk: &d.chunks[0], vector: &d.vectors[0] }).collect();
    index.add_points(&points).unwrap();

    assert_eq!(TextIndex::len(index.as_ref()).unwrap(), 150);
    assert_eq!(VectorIndex::len(index.as_ref()).unwrap(), 150, "every point has its dense vector");
    let everyone = SearchFilter { principals: vec![EVERYONE.into()], ..Default::default() };
    let target = &docs[41]; // document 42: public
    let nearest = VectorIndex::search(index.as_ref(), &target.vectors[0], 1, &everyone).unwrap();
    assert_eq!(nearest[0].chunk, target.chunks[0].id);
    let eng_only = &docs[42]; // document 43: eng
    let hidden = VectorIndex::search(index.as_ref(), &eng_only.vectors[0], 150, &everyone).unwrap();
    assert!(hidden.iter().all(|h| h.chunk != eng_only.chunks[0].id), "the ACL label was written with the point");
    let words = TextIndex::search(index.as_ref(), "zanzibar", 3, &everyone).unwrap();
    assert_eq!(words.first().map(|h| h.chunk), Some(target.chunks[0].id));
    let fetched = TextIndex::fetch(index.as_ref(), &[target.chunks[0].id]).unwrap();
    assert_eq!(fetched[0].document, target.meta);
    assert_eq!(fetched[0].text, target.chunks[0].text);

    let wrong = vec![0.5f32; DIMENSIONS + 1];
    let point = VectorPoint { document: &target.meta, chunk: &target.chunks[0], vector: &wrong };
    assert!(index.add_points(&[point]).unwrap_err().to_string().contains("dimensions"));
}

#[test]
fn a_server_that_is_down_is_named_in_the_error_without_a_long_wait() {
    // A port nothing listens on: bind one, then close it.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let mut settings = settings(&url, fresh_collection());
    settings.retries = 1;
    let error = QdrantServerIndex::connect(settings).err().expect("nothing listens there").to_string();
    assert!(error.contains("cannot reach the Qdrant server") && error.contains(&url), "{error}");
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
}

#[test]
fn a_server_that_never_answers_times_out_and_is_retried_a_bounded_number_of_times() {
    // Accepts connections and reads nothing: every request waits for its timeout.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::Relaxed);
            held.push(stream);
        }
    });
    let mut settings = settings(&url, fresh_collection());
    settings.timeout = Duration::from_secs(1);
    settings.retries = 2;
    let started = Instant::now();
    let error = QdrantServerIndex::connect(settings).err().expect("no answer is an error").to_string();
    let took = started.elapsed();
    assert!(error.contains("Qdrant server"), "{error}");
    // Three tries of one second each plus 200 + 400 ms of waiting; far less than a hang.
    assert!(took >= Duration::from_secs(3) && took < Duration::from_secs(20), "took {took:?}: {error}");
}

#[test]
fn tantivy_filters_across_many_segments_equal_ranking_everything_then_filtering() {
    // Larger than the contract's corpus and committed in several segments: the permission-filtered
    // collector must keep block-max pruning exact across segment boundaries.
    let dir = tempfile::tempdir().unwrap();
    let index = TantivyTextIndex::open(dir.path(), OpenMode::Write).unwrap();
    let mut rng = Lcg(7);
    let mut metas = HashMap::new();
    for n in 0..3000 {
        let text: Vec<&str> = (0..8 + rng.below(30)).map(|_| WORDS[rng.below(WORDS.len())]).collect();
        let acl: &[&str] = match rng.below(3) {
            0 => &[EVERYONE],
            1 => &["hr"],
            _ => &["eng", "ops"],
        };
        let doc = document(n + 1, acl, &[text.join(" ").as_str()], &mut rng);
        index.add(&doc.meta, &doc.chunks).unwrap();
        metas.insert(doc.chunks[0].id, doc.meta);
        if n % 1000 == 999 {
            index.commit().unwrap();
        }
    }
    index.commit().unwrap();
    let mut rng = Lcg(11);
    for q in 0..40 {
        let query: Vec<&str> = (0..1 + q % 3).map(|_| WORDS[rng.below(WORDS.len())]).collect();
        let query = query.join(" ");
        let everything = index.search(&query, 10_000, &SearchFilter::default()).unwrap();
        for filter in filters() {
            let expected: Vec<_> = everything.iter().filter(|h| allows(&filter, &metas[&h.chunk])).take(10).collect();
            let found = index.search(&query, 10, &filter).unwrap();
            assert_eq!(found.len(), expected.len(), "{query:?} {filter:?}");
            for (got, want) in found.iter().zip(&expected) {
                assert!((got.score - want.score).abs() < 1e-5, "{query:?} {filter:?}: {got:?} vs {want:?}");
                assert!(
                    allows(&filter, &metas[&got.chunk]),
                    "{query:?} {filter:?} let through {:?}",
                    metas[&got.chunk]
                );
            }
        }
    }
}
