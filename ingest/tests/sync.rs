//! Ingestion on real components: the ONNX embedder, tantivy and Qdrant Edge on disk, SQLite.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use lore_core::acl::DocumentAcl;
use lore_core::catalog::{DocumentState, DocumentStatus, FileFacts};
use lore_core::config::Config;
use lore_core::datadir::DataDir;
use lore_core::embed::{Embedder, OnnxEmbedder, TokenCounter};
use lore_core::{Chunk, DocumentId, DocumentKind, SearchFilter, EVERYONE};
use lore_ingest::chunk::Chunker;
use lore_ingest::progress::NoProgress;
use lore_ingest::recover::{check, recover};
use lore_ingest::{Stores, SyncOptions, SyncReport, Syncer};
use lore_testkit::{docs, pdf, set_mtime};
use tempfile::TempDir;

/// Fields drop in order: the stores must close before their temporary directory is deleted.
struct Harness {
    syncer: Syncer,
    embedder: Arc<OnnxEmbedder>,
    docs: PathBuf,
    config: Config,
    _dir: TempDir,
}

impl Harness {
    async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    async fn with_config(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let docs = dir.path().join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        let mut config = lore_testkit::config(&dir.path().join("data"));
        tweak(&mut config);
        let embedder = Arc::new(OnnxEmbedder::from_config(&config).expect("the test embedder loads"));
        let syncer = Self::syncer(&config, embedder.clone()).await;
        Self { syncer, embedder, docs, config, _dir: dir }
    }

    async fn syncer(config: &Config, embedder: Arc<OnnxEmbedder>) -> Syncer {
        let counter = TokenCounter::from_dir(&config.tokenizer_dir()).unwrap();
        let chunker = Chunker::new(counter, &config.chunking).unwrap();
        let stores = Stores::open_embedded(&DataDir::create(&config.data_dir).unwrap(), 384, "test").await.unwrap();
        Syncer::new(Arc::new(config.clone()), stores, embedder, Arc::new(chunker))
    }

    fn write(&self, relative: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.docs.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn options(&self) -> SyncOptions {
        SyncOptions {
            source: "docs".into(),
            root: self.docs.clone(),
            acl: Some(vec![EVERYONE.into()]),
            retry_failed: false,
        }
    }

    async fn sync(&self) -> SyncReport {
        self.sync_with(self.options()).await
    }

    async fn sync_with(&self, options: SyncOptions) -> SyncReport {
        self.syncer.sync(&options, Arc::new(NoProgress), Arc::new(AtomicBool::new(false))).await.expect("sync runs")
    }

    fn stores(&self) -> &Stores {
        self.syncer.stores()
    }

    async fn document(&self, path: &str) -> DocumentState {
        let source = self.stores().catalog.source_by_name("docs").await.unwrap().expect("source exists");
        let docs = self.stores().catalog.documents(source.id).await.unwrap();
        docs.into_iter().find(|d| d.path == path).unwrap_or_else(|| panic!("{path} is in the catalog"))
    }

    async fn chunks(&self, path: &str) -> Vec<Chunk> {
        let doc = self.document(path).await;
        self.stores().catalog.chunks_of(doc.id).await.unwrap()
    }

    async fn all_chunks(&self) -> Vec<Chunk> {
        let source = self.stores().catalog.source_by_name("docs").await.unwrap().unwrap();
        let mut all = Vec::new();
        for doc in self.stores().catalog.documents(source.id).await.unwrap() {
            all.extend(self.stores().catalog.chunks_of(doc.id).await.unwrap());
        }
        all
    }

    fn text_search(&self, query: &str) -> Vec<lore_core::ChunkId> {
        let hits = self.stores().text.search(query, 10, &SearchFilter::default()).unwrap();
        hits.into_iter().map(|h| h.chunk).collect()
    }

    async fn assert_consistent(&self) {
        let report = check(self.stores()).await.unwrap();
        assert!(report.is_consistent(), "stores disagree: {report:?}");
    }
}

fn chunk_with<'a>(chunks: &'a [Chunk], phrase: &str) -> &'a Chunk {
    chunks.iter().find(|c| c.text.contains(phrase)).unwrap_or_else(|| panic!("no chunk contains {phrase:?}"))
}

fn char_slice(text: &str, start: usize, end: usize) -> String {
    text.chars().skip(start).take(end - start).collect()
}

const ZEBRA: &str = "The zebra protocol requires calibration of every sensor once per quarter.";

fn three_page_pdf() -> Vec<u8> {
    let page1 = format!("Operations manual. {}", docs::filler(1, 12));
    let page2 = format!("{} {ZEBRA} {}", docs::filler(2, 10), docs::filler(3, 10));
    let page3 = format!("{}\n{}\n{}", docs::filler(4, 14), docs::filler(5, 14), docs::filler(6, 14));
    pdf::text_pdf(Some("Sensor Operations Manual"), &[&page1, &page2, &page3])
}

#[tokio::test]
async fn pdf_chunks_know_their_page_size_and_offsets() {
    let h = Harness::new().await;
    h.write("manuals/sensors.pdf", three_page_pdf());
    let report = h.sync().await;
    assert_eq!((report.counts.indexed, report.counts.failed, report.pages), (1, 0, 3), "{report:?}");

    let chunks = h.chunks("manuals/sensors.pdf").await;
    let doc = h.document("manuals/sensors.pdf").await;
    let text = h.stores().catalog.document_text(doc.id).await.unwrap().expect("text is stored");
    let counter = TokenCounter::from_dir(&h.config.tokenizer_dir()).unwrap();
    assert!(chunks.len() >= 3, "three pages of text make several chunks, got {}", chunks.len());
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk.ordinal as usize, i);
        assert_eq!(char_slice(&text, chunk.start, chunk.end), chunk.text, "chunk {i} offsets point at its text");
        assert!(chunk.tokens as usize <= h.config.chunking.max_tokens, "chunk {i} has {} tokens", chunk.tokens);
        assert_eq!(counter.count(&chunk.text), chunk.tokens as usize);
        assert!(matches!(chunk.page, Some(1..=3)), "chunk {i} page {:?}", chunk.page);
    }
    let pages: std::collections::BTreeSet<_> = chunks.iter().filter_map(|c| c.page).collect();
    assert_eq!(pages.into_iter().collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(chunk_with(&chunks, "zebra protocol").page, Some(2));
    assert!(chunk_with(&chunks, "Operations manual").page == Some(1));
    // Pages are split separately: no chunk holds text of two pages.
    assert!(chunks.iter().all(|c| !(c.text.contains("Operations manual") && c.text.contains("zebra"))));
    h.assert_consistent().await;
}

#[tokio::test]
async fn phrases_are_found_by_tantivy_and_by_nearest_neighbour() {
    let h = Harness::new().await;
    h.write("sensors.pdf", three_page_pdf());
    h.write(
        "wiki/travel.html",
        docs::wiki_page(
            "Travel policy",
            "<p>Employees travelling to Lisbon must book their hotel through the internal portal.</p>\
             <h2>Per diem</h2><p>The daily meal allowance abroad is fifty euros.</p>",
        ),
    );
    h.write("notes/kitchen.md", "# Kitchen\n\nThe espresso machine on floor three is descaled every Friday.\n");
    h.write("handbook.docx", docs::docx("Handbook", "Leave", &["Parental leave lasts sixteen weeks at full pay."]));
    let report = h.sync().await;
    assert_eq!(report.counts.indexed, 4, "{:?}", report.failures);

    let all = h.all_chunks().await;
    let zebra = chunk_with(&all, "zebra protocol").id;
    assert_eq!(h.text_search("zebra protocol calibration").first(), Some(&zebra));
    assert_eq!(h.text_search("espresso descaled").first(), Some(&chunk_with(&all, "espresso").id));

    let cases = [
        ("how often do sensors need calibrating", "zebra protocol"),
        ("how much money do I get for food per day abroad", "meal allowance"),
        ("when is the coffee machine cleaned", "espresso machine"),
        ("how long is maternity or paternity leave", "Parental leave"),
    ];
    for (question, phrase) in cases {
        let query = h.embedder.embed(&[question]).unwrap().remove(0);
        let hits = h.stores().vectors.search(&query, 3, &SearchFilter::default()).unwrap();
        assert_eq!(hits[0].chunk, chunk_with(&all, phrase).id, "nearest neighbour of {question:?}");
        assert!((0.0..=1.0001).contains(&hits[0].score));
    }
}

#[tokio::test]
async fn structured_formats_keep_heading_paths_and_drop_navigation() {
    let h = Harness::new().await;
    h.write(
        "guide.md",
        format!(
            "---\ntitle: Deployment Guide\n---\n# Guide\n\n{}\n\n## Install\n\n### Linux\n\nRun the installer with the \
             --unattended flag on Debian hosts. {}\n\n## Upgrade\n\nStop the service before upgrading. {}\n",
            docs::filler(7, 30),
            docs::filler(8, 12),
            docs::filler(9, 12),
        ),
    );
    h.write(
        "wiki/onboarding.html",
        docs::wiki_page("Onboarding", "<h2>First week</h2><p>Your buddy shows you the badge office on day one.</p>"),
    );
    h.write("policies.docx", docs::docx("Policies", "Security", &["Laptops are encrypted with full-disk encryption."]));
    assert_eq!(h.sync().await.counts.indexed, 3);

    let guide = h.chunks("guide.md").await;
    assert_eq!(chunk_with(&guide, "--unattended").heading.as_deref(), Some("Guide > Install > Linux"));
    assert_eq!(chunk_with(&guide, "Stop the service").heading.as_deref(), Some("Guide > Upgrade"));
    assert!(guide.iter().all(|c| c.page.is_none() && !c.text.contains("title: Deployment")));

    let wiki = h.chunks("wiki/onboarding.html").await;
    assert_eq!(chunk_with(&wiki, "badge office").heading.as_deref(), Some("Onboarding > First week"));
    for nav in ["Recently viewed", "Powered by", "analytics", "Spaces"] {
        assert!(wiki.iter().all(|c| !c.text.contains(nav)), "{nav} leaked into the index");
    }
    let docx = h.chunks("policies.docx").await;
    assert_eq!(chunk_with(&docx, "full-disk").heading.as_deref(), Some("Security"));
}

#[tokio::test]
async fn resync_skips_unchanged_reindexes_changed_and_removes_deleted() {
    let h = Harness::new().await;
    let a = h.write("a.md", "# A\n\nThe orange cabinet holds the spare keyboards.\n");
    h.write("b.txt", "The backup generator is tested on the first Monday of each month.");
    let c = h.write("sub/c.md", "# C\n\nVisitors sign the guest book at reception.\n");
    for (i, p) in [&a, &c].iter().enumerate() {
        set_mtime(p, 1_700_000_000 + i as u64);
    }
    let first = h.sync().await;
    assert_eq!((first.counts.indexed, first.counts.unchanged), (3, 0));

    let second = h.sync().await;
    assert_eq!((second.counts.indexed, second.counts.unchanged, second.counts.removed), (0, 3, 0));

    // Same bytes, new modification time: unchanged by hash, and the new time is remembered.
    set_mtime(&c, 1_800_000_000);
    let touched = h.sync().await;
    assert_eq!((touched.counts.indexed, touched.counts.unchanged), (0, 3));
    assert_eq!(h.document("sub/c.md").await.modified_ms, 1_800_000_000_000);

    std::fs::write(&a, "# A\n\nThe purple drawer holds the spare mice.\n").unwrap();
    set_mtime(&a, 1_800_000_100);
    let changed = h.sync().await;
    assert_eq!((changed.counts.indexed, changed.counts.unchanged), (1, 2));
    assert!(h.text_search("orange cabinet keyboards").is_empty(), "old version is gone from tantivy");
    let chunks = h.chunks("a.md").await;
    assert_eq!(h.text_search("purple drawer").first(), Some(&chunk_with(&chunks, "purple drawer").id));

    std::fs::remove_file(&c).unwrap();
    let removed = h.sync().await;
    assert_eq!((removed.counts.removed, removed.counts.unchanged), (1, 2));
    assert!(h.text_search("guest book reception").is_empty());
    let vectors = h.stores().vectors.chunk_counts().unwrap();
    assert_eq!(vectors.len(), 2, "vectors of the deleted file are gone: {vectors:?}");
    h.assert_consistent().await;
}

#[tokio::test]
async fn removing_a_source_empties_every_store_of_it_and_keeps_the_others() {
    let h = Harness::new().await;
    h.write("a.md", "# A\n\nThe orange cabinet holds the spare keyboards.\n");
    h.sync().await;
    let other = h.docs.parent().unwrap().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("b.txt"), "The backup generator is tested on the first Monday of each month.").unwrap();
    let options = SyncOptions { source: "other".into(), root: other, ..h.options() };
    h.sync_with(options).await;
    let document = h.document("a.md").await;
    assert_eq!(h.stores().catalog.document(document.id).await.unwrap().unwrap().source, "docs");

    assert_eq!(h.syncer.remove_source("docs").await.unwrap(), 1);
    assert!(h.stores().catalog.source_by_name("docs").await.unwrap().is_none());
    assert!(h.stores().catalog.document(document.id).await.unwrap().is_none());
    assert!(h.text_search("orange cabinet").is_empty());
    assert_eq!(h.text_search("backup generator").len(), 1, "the other source stays searchable");
    assert_eq!(h.stores().vectors.chunk_counts().unwrap().len(), 1);
    h.assert_consistent().await;
    let unknown = h.syncer.remove_source("docs").await.unwrap_err();
    assert_eq!(unknown.to_string(), "there is no source named 'docs'");
}

#[tokio::test]
async fn bad_files_fail_alone_with_specific_errors() {
    let h = Harness::with_config(|c| c.ingest.max_file_mb = 1).await;
    h.write("good.md", "# Good\n\nThe fire exit is behind the cafeteria.\n");
    h.write("also-good.pdf", pdf::text_pdf(None, &["The server room door code changes every month."]));
    h.write("corrupt.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer garbage\n%%EOF");
    let mut truncated = three_page_pdf();
    truncated.truncate(truncated.len() / 3);
    h.write("truncated.pdf", truncated);
    h.write("scan.pdf", pdf::image_only_pdf());
    h.write("empty.md", "");
    h.write("garbage.txt", (0..20_000u32).map(|i| (i.wrapping_mul(2654435761) >> 11) as u8).collect::<Vec<_>>());
    h.write("huge.txt", "word ".repeat(300_000));
    h.write("not-really.docx", "this is not a zip archive");
    let encrypted = encrypted_pdf(&h.docs);

    let report = h.sync().await;
    assert_eq!(report.counts.indexed, 2, "{:#?}", report.failures);
    let error_of = |path: &str| {
        report.failures.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("{path} failed")).error.clone()
    };
    assert!(error_of("corrupt.pdf").starts_with("not a valid pdf file"), "{}", error_of("corrupt.pdf"));
    assert!(error_of("truncated.pdf").contains("pdf"), "{}", error_of("truncated.pdf"));
    assert!(error_of("scan.pdf").starts_with("no text layer"));
    assert_eq!(error_of("empty.md"), "file is empty");
    assert_eq!(error_of("garbage.txt"), "binary content in a text file");
    assert!(error_of("huge.txt").contains("over the 1 MiB limit"), "{}", error_of("huge.txt"));
    assert!(error_of("not-really.docx").starts_with("not a valid docx file"));
    assert_eq!(error_of(&encrypted), "encrypted PDF: a password is needed to read it");
    assert_eq!(h.document("scan.pdf").await.status, DocumentStatus::NoText);
    assert_eq!(h.document("corrupt.pdf").await.status, DocumentStatus::Failed);

    // Unchanged failures are not retried on every run, unless asked.
    let again = h.sync().await;
    assert_eq!((again.counts.failed, again.counts.unchanged), (0, 10));
    let retried = h.sync_with(SyncOptions { retry_failed: true, ..h.options() }).await;
    assert_eq!(retried.counts.failed, 8);

    // A file that turns bad keeps its previous version searchable, with the error recorded.
    let before = h.chunks("good.md").await;
    h.write("good.md", vec![0u8; 4096]);
    set_mtime(&h.docs.join("good.md"), 1_900_000_000);
    let broken = h.sync().await;
    assert_eq!(broken.failures.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["good.md"]);
    let doc = h.document("good.md").await;
    assert_eq!(
        (doc.status, doc.error.as_deref()),
        (DocumentStatus::Indexed, Some("binary content in a markdown file"))
    );
    assert_eq!(h.chunks("good.md").await, before);
    assert_eq!(h.text_search("fire exit cafeteria").first(), Some(&before[0].id));
    h.assert_consistent().await;
}

/// An AES-encrypted PDF with a user password, made by qpdf (installed by .ci/run).
fn encrypted_pdf(dir: &Path) -> String {
    let plain = dir.join("plain-for-encryption.tmp");
    std::fs::write(&plain, pdf::text_pdf(None, &["Salaries of the board."])).unwrap();
    let out = dir.join("locked.pdf");
    let status = std::process::Command::new("qpdf")
        .args(["--encrypt", "user-secret", "owner-secret", "256", "--"])
        .arg(&plain)
        .arg(&out)
        .status()
        .expect("qpdf is installed (apt-get install qpdf; .ci/run does it)");
    assert!(status.success(), "qpdf encrypts the fixture");
    std::fs::remove_file(plain).unwrap();
    "locked.pdf".into()
}

#[tokio::test]
async fn a_crash_between_index_writes_and_catalog_commit_is_repaired() {
    let h = Harness::new().await;
    h.write("kept.md", "# Kept\n\nThe library closes at six.\n");
    assert_eq!(h.sync().await.counts.indexed, 1);

    // Replay the first two steps of the write protocol for a new file, then "crash": the catalog says
    // pending and both indexes hold chunks the catalog never recorded.
    let stores = h.stores().clone();
    let source = stores.catalog.source_by_name("docs").await.unwrap().unwrap();
    let facts = FileFacts {
        path: "half-written.md".into(),
        kind: DocumentKind::Markdown,
        size_bytes: 10,
        modified_ms: 1,
        content_hash: "x".into(),
        acl: DocumentAcl::resolve(&[EVERYONE.to_string()], None, None),
    };
    let id = stores.catalog.begin_documents(source.id, &[facts]).await.unwrap()[0];
    let orphan = orphan_chunk(id);
    let meta = lore_core::DocumentMeta {
        id,
        source: "docs".into(),
        path: "half-written.md".into(),
        title: "half".into(),
        kind: DocumentKind::Markdown,
        modified_ms: 1,
        acl: vec![EVERYONE.into()],
    };
    stores.text.add(&meta, std::slice::from_ref(&orphan)).unwrap();
    let vector = vec![0.05f32; 384];
    stores
        .vectors
        .upsert(&[lore_core::vectors::VectorPoint { document: &meta, chunk: &orphan, vector: &vector }])
        .unwrap();
    stores.persist_indexes().unwrap();
    assert!(!check(&stores).await.unwrap().is_consistent(), "the check sees the half-written document");

    let recovery = recover(&stores).await.unwrap();
    assert_eq!(recovery.purged_documents, 1);
    h.assert_consistent().await;
    assert!(h.text_search("unicorn").is_empty());
    assert_eq!(h.text_search("library closes").len(), 1, "what was committed before survives");
}

fn orphan_chunk(id: DocumentId) -> Chunk {
    Chunk {
        id: lore_core::ChunkId::new(id, 0).unwrap(),
        ordinal: 0,
        text: "a unicorn that was never committed".into(),
        page: None,
        heading: None,
        start: 0,
        end: 34,
        tokens: 8,
    }
}

#[tokio::test]
async fn only_one_writer_per_data_directory() {
    let h = Harness::new().await;
    let second = Stores::open_embedded(&DataDir::new(&h.config.data_dir), 384, "second").await;
    let err = second.err().expect("a second writer is refused").to_string();
    assert!(err.contains("being written by another lore process (test, pid"), "{err}");
}

/// The principals' view of the text index and the vector store: which of the source's chunks a caller
/// holding `principals` finds by each engine.
async fn visible_to(h: &Harness, principals: &[&str], query: &str) -> (usize, usize) {
    let filter =
        SearchFilter { principals: principals.iter().map(|p| p.to_string()).collect(), ..SearchFilter::default() };
    let text = h.stores().text.search(query, 10, &filter).unwrap().len();
    let vector = h.embedder.embed(&[query]).unwrap().pop().unwrap();
    let vectors = h.stores().vectors.search(&vector, 10, &filter).unwrap().len();
    (text, vectors)
}

fn acl(principals: &[&str]) -> Option<Vec<String>> {
    Some(principals.iter().map(|p| p.to_string()).collect())
}

#[tokio::test]
async fn an_acl_change_relabels_every_chunk_in_both_indexes_and_is_kept_until_changed() {
    let h = Harness::new().await;
    h.write("board.md", "# Board minutes\n\nThe board approved the merger with Initech in March.\n");
    h.write("plans.md", "# Plans\n\nThe merger closes after the regulator's review.\n");
    h.sync().await;
    assert_eq!(visible_to(&h, &[EVERYONE], "merger").await, (2, 2));

    let narrowed = h.sync_with(SyncOptions { acl: acl(&["group:exec"]), ..h.options() }).await;
    assert_eq!((narrowed.relabeled, narrowed.counts.indexed, narrowed.counts.unchanged), (2, 0, 2));
    assert_eq!(visible_to(&h, &[EVERYONE], "merger").await, (0, 0), "no reader outside group:exec finds them");
    assert_eq!(visible_to(&h, &[EVERYONE, "group:exec"], "merger").await, (2, 2));
    h.assert_consistent().await;

    // A sync that names no ACL keeps the source's.
    let kept = h.sync_with(SyncOptions { acl: None, ..h.options() }).await;
    assert_eq!(kept.relabeled, 0);
    let source = h.stores().catalog.source_by_name("docs").await.unwrap().unwrap();
    assert_eq!(source.acl, ["group:exec"]);
    h.write("later.md", "# Later\n\nThe merger party is on Friday.\n");
    h.sync_with(SyncOptions { acl: None, ..h.options() }).await;
    assert_eq!(visible_to(&h, &[EVERYONE], "merger").await, (0, 0), "new files take the source's ACL");

    let widened = h.sync_with(SyncOptions { acl: acl(&[EVERYONE]), ..h.options() }).await;
    assert_eq!(widened.relabeled, 3);
    assert_eq!(visible_to(&h, &[EVERYONE], "merger").await, (3, 3));
    h.assert_consistent().await;
}

#[tokio::test]
async fn the_check_finds_a_chunk_whose_index_acl_differs_from_the_catalog() {
    let h = Harness::new().await;
    h.write("a.md", "# A\n\nThe parking garage opens at six.\n");
    h.write("b.md", "# B\n\nThe canteen opens at seven.\n");
    h.sync().await;
    let (a, b) = (h.document("a.md").await.id, h.document("b.md").await.id);
    h.stores().text.relabel(&[a], &["group:x".to_string()]).unwrap();
    h.stores().vectors.relabel(&[b], &["group:y".to_string()]).unwrap();
    h.stores().persist_indexes().unwrap();
    let report = check(h.stores()).await.unwrap();
    assert!(!report.is_consistent());
    let of = |id: DocumentId| report.mislabeled.iter().find(|m| m.document == id.0);
    assert_eq!(report.mislabeled.len(), 2, "{report:?}");
    assert_eq!(of(a).expect("a is mislabeled").text, [vec!["group:x".to_string()]]);
    assert_eq!(of(b).expect("b is mislabeled").vectors, [vec!["group:y".to_string()]]);
    assert!(report.disagreements.is_empty(), "the counts still agree: {report:?}");
}

#[tokio::test]
async fn a_crash_during_an_acl_change_leaves_no_chunk_under_the_old_acl() {
    let h = Harness::new().await;
    h.write("board.md", "# Board minutes\n\nThe board approved the merger with Initech in March.\n");
    h.sync().await;
    let source = h.stores().catalog.source_by_name("docs").await.unwrap().unwrap();
    let board = h.document("board.md").await.id;
    // The process dies after the catalog took the new ACL and one index was relabelled.
    let exec = DocumentAcl::resolve(&["group:exec".to_string()], None, None);
    h.stores().catalog.set_source_acl(source.id, &exec.principals).await.unwrap();
    let documents = h.stores().catalog.begin_relabel(&[(board, exec)]).await.unwrap();
    h.stores().text.relabel(&documents, &["group:exec".to_string()]).unwrap();
    h.stores().persist_indexes().unwrap();
    assert_eq!(visible_to(&h, &[EVERYONE], "merger").await, (0, 1), "half-relabelled");

    // The next writer recovers first: the pending documents leave both indexes and are read again.
    let recovery = recover(h.stores()).await.unwrap();
    assert_eq!(recovery.purged_documents, 1);
    let resynced = h.sync_with(SyncOptions { acl: None, ..h.options() }).await;
    assert_eq!(resynced.counts.indexed, 1);
    assert_eq!(visible_to(&h, &[EVERYONE], "merger").await, (0, 0));
    assert_eq!(visible_to(&h, &[EVERYONE, "group:exec"], "merger").await, (1, 1));
    h.assert_consistent().await;
}

fn principals(list: &[&str]) -> Vec<String> {
    list.iter().map(|p| p.to_string()).collect()
}

#[tokio::test]
async fn acl_files_and_front_matter_narrow_below_the_source_and_relabel_without_reading_again() {
    let h = Harness::new().await;
    h.write("open.md", "# Open\n\nThe canteen serves the walrus menu on Mondays.\n");
    h.write("private.md", "---\nacl: [user:pat]\n---\n# Private\n\nThe walrus review of Pat.\n");
    h.write("hr/.lore-acl", "# the HR share\ngroup:hr\n");
    h.write("hr/pay.md", "# Pay\n\nThe walrus bonus is paid in March.\n");
    h.write("hr/leads.md", "---\nacl:\n  - group:hr\n  - group:eng\n---\n# Leads\n\nThe walrus leads meet.\n");
    let first = h.sync().await;
    assert_eq!((first.counts.indexed, first.counts.failed), (4, 0), "the ACL file is no document: {first:?}");
    assert_eq!(visible_to(&h, &[EVERYONE], "walrus").await, (1, 1));
    assert_eq!(visible_to(&h, &[EVERYONE, "user:pat"], "walrus").await, (2, 2), "front matter narrows a page");
    assert_eq!(visible_to(&h, &[EVERYONE, "group:hr"], "walrus").await, (3, 3), "the ACL file's subtree");
    assert_eq!(visible_to(&h, &[EVERYONE, "group:eng"], "walrus").await, (1, 1), "a page cannot widen its folder");
    let leads = h.document("hr/leads.md").await;
    assert_eq!(leads.acl.principals, principals(&["group:hr"]));
    assert_eq!(leads.acl.file.as_deref(), Some("hr/.lore-acl"));
    assert_eq!(leads.acl.page, Some(principals(&["group:eng", "group:hr"])));
    h.assert_consistent().await;

    // The ACL file changes: its documents take the new ACL, nothing is read or embedded again.
    h.write("hr/.lore-acl", "group:hr\ngroup:finance\n");
    let changed = h.sync().await;
    assert_eq!((changed.relabeled, changed.counts.indexed, changed.counts.unchanged), (1, 0, 4), "{changed:?}");
    assert_eq!(visible_to(&h, &[EVERYONE, "group:finance"], "walrus").await, (2, 2));
    assert_eq!(h.document("hr/leads.md").await.acl.principals, principals(&["group:hr"]), "still narrowed");
    h.assert_consistent().await;

    // Gone: the folder falls back to the source's ACL, and the page narrows that instead.
    std::fs::remove_file(h.docs.join("hr/.lore-acl")).unwrap();
    let widened = h.sync().await;
    assert_eq!((widened.relabeled, widened.counts.indexed), (2, 0), "{widened:?}");
    assert_eq!(visible_to(&h, &[EVERYONE], "walrus").await, (2, 2));
    assert_eq!(visible_to(&h, &[EVERYONE, "group:eng"], "walrus").await, (3, 3));
    assert_eq!(h.document("hr/leads.md").await.acl.principals, principals(&["group:eng", "group:hr"]));
    h.assert_consistent().await;

    // The source's own ACL still reaches the documents no ACL file governs, and only those.
    h.write("hr/.lore-acl", "group:hr\n");
    let narrowed = h.sync_with(SyncOptions { acl: acl(&["group:staff"]), ..h.options() }).await;
    assert_eq!(narrowed.counts.indexed, 0);
    assert_eq!(visible_to(&h, &[EVERYONE, "group:staff"], "walrus").await, (1, 1), "open.md only");
    assert_eq!(h.document("private.md").await.acl.principals, Vec::<String>::new(), "pat is not staff: nobody");
    h.assert_consistent().await;
}

#[tokio::test]
async fn an_acl_file_that_cannot_be_used_closes_its_folder_and_says_why() {
    let h = Harness::new().await;
    h.write("secret/plan.md", "# Plan\n\nThe narwhal launch is in May.\n");
    h.write("secret/.lore-acl", b"group:exec\xff\xfe".as_slice());
    h.write("empty/notes.md", "# Notes\n\nThe narwhal budget is small.\n");
    h.write("empty/.lore-acl", "# nobody yet\n");
    let report = h.sync().await;
    assert_eq!(report.counts.indexed, 2);
    let broken: Vec<&str> = report.failures.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(broken, ["secret/.lore-acl"], "{report:?}");
    assert!(report.failures[0].error.contains("not UTF-8"), "{}", report.failures[0].error);
    assert_eq!(visible_to(&h, &[EVERYONE, "group:exec"], "narwhal").await, (0, 0), "fail closed");
    assert!(h.document("secret/plan.md").await.acl.principals.is_empty());
    h.assert_consistent().await;

    // Fixed: the folder opens to what the file says, without reading the documents again.
    h.write("secret/.lore-acl", "group:exec\n");
    let fixed = h.sync().await;
    assert_eq!((fixed.relabeled, fixed.counts.indexed, fixed.failures.len()), (1, 0, 0));
    assert_eq!(visible_to(&h, &[EVERYONE, "group:exec"], "narwhal").await, (1, 1));
}

/// The rules, written apart from the code: the nearest ACL file up the tree, else the source's; a
/// page's list keeps what its folder grants (anything when the folder grants everyone).
fn expected_acl(path: &str, files: &HashMap<String, Vec<String>>, page: Option<&[String]>) -> Vec<String> {
    let mut folder = path.rsplit_once('/').map_or("", |(f, _)| f).to_string();
    let inherited = loop {
        if let Some(acl) = files.get(&folder) {
            break acl.clone();
        }
        if folder.is_empty() {
            break vec![EVERYONE.to_string()];
        }
        folder = folder.rsplit_once('/').map_or("", |(f, _)| f).to_string();
    };
    let mut acl: Vec<String> = match page {
        None => inherited,
        Some(page) if inherited.iter().any(|p| p == EVERYONE) => page.to_vec(),
        Some(page) => page.iter().filter(|p| inherited.contains(p)).cloned().collect(),
    };
    acl.sort();
    acl.dedup();
    acl
}

#[tokio::test]
async fn random_acl_trees_label_every_chunk_as_the_rules_say_and_searches_keep_to_them() {
    let h = Harness::new().await;
    let groups = ["group:a", "group:b", "group:c", "user:u"];
    let folders = ["", "x", "x/y", "x/y/z", "w", "w/v"];
    let mut seed = 0x5eed_u64;
    let mut next = |n: usize| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    };
    let pick = |next: &mut dyn FnMut(usize) -> usize| -> Vec<String> {
        let mut list: Vec<String> = groups.iter().filter(|_| next(2) == 0).map(|g| g.to_string()).collect();
        if next(5) == 0 {
            list.push(EVERYONE.into());
        }
        list
    };
    let mut pages: HashMap<String, Option<Vec<String>>> = HashMap::new();
    for round in 0..3 {
        // A new tree of ACL files each round; the documents stay (and are relabelled, not read again).
        let mut files: HashMap<String, Vec<String>> = HashMap::new();
        for folder in folders {
            let acl_file = h.docs.join(folder).join(".lore-acl");
            if next(2) == 0 {
                let acl = pick(&mut next);
                h.write(&format!("{folder}/.lore-acl").trim_start_matches('/').to_string(), acl.join("\n"));
                files.insert(folder.to_string(), acl);
            } else if acl_file.exists() {
                std::fs::remove_file(acl_file).unwrap();
            }
        }
        for n in 0..24 {
            let folder = folders[n % folders.len()];
            let path = format!("{folder}/doc{n}.md").trim_start_matches('/').to_string();
            if round == 0 {
                let page = (next(3) == 0).then(|| pick(&mut next));
                let front = page.as_ref().map_or(String::new(), |p| format!("---\nacl: [{}]\n---\n", p.join(", ")));
                h.write(&path, format!("{front}# Doc {n}\n\nThe marker word is quux{n}zz in this note.\n"));
                pages.insert(path, page);
            }
        }
        let report = h.sync().await;
        if round > 0 {
            assert_eq!(report.counts.indexed, 0, "round {round}: ACL files alone never re-read a document");
        }
        h.assert_consistent().await;
        let acls = h.stores().catalog.document_acls().await.unwrap();
        let source = h.stores().catalog.source_by_name("docs").await.unwrap().unwrap();
        for document in h.stores().catalog.documents(source.id).await.unwrap() {
            let expected = expected_acl(&document.path, &files, pages[&document.path].as_deref());
            assert_eq!(acls[&document.id], expected, "round {round}: {} under {files:?}", document.path);
        }
        // Every marker is found by exactly the callers its document's ACL lets in, by both engines.
        for caller in [vec![], vec!["group:a"], vec!["group:b", "user:u"], vec!["group:c", "group:a"]] {
            let mut principals: Vec<String> = caller.iter().map(|p| p.to_string()).collect();
            principals.push(EVERYONE.into());
            let filter = SearchFilter { principals: principals.clone(), ..SearchFilter::default() };
            for document in h.stores().catalog.documents(source.id).await.unwrap() {
                let n: usize = document.path.rsplit("doc").next().unwrap().trim_end_matches(".md").parse().unwrap();
                let readable = acls[&document.id].iter().any(|p| principals.contains(p));
                let hits = h.stores().text.search(&format!("quux{n}zz"), 5, &filter).unwrap();
                let found = hits.iter().any(|hit| hit.chunk.document() == document.id);
                assert_eq!(found, readable, "round {round}, {caller:?}: {} ({:?})", document.path, acls[&document.id]);
                let vectors = h.stores().vectors.search(&vec![0.1f32; 384], 100, &filter).unwrap();
                let near = vectors.iter().any(|hit| hit.chunk.document() == document.id);
                assert_eq!(near, readable, "round {round}, {caller:?}: vectors of {}", document.path);
            }
        }
    }
}

#[tokio::test]
async fn hostile_structure_costs_its_file_and_never_the_process() {
    let h = Harness::new().await;
    h.write("normal.md", "# Normal\n\nThe printer on floor two takes A3 paper.\n");
    h.write("deep.html", lore_testkit::hostile::nested_html(20_000, "Deep html words about lanterns."));
    h.write("deep.md", lore_testkit::hostile::nested_markdown(2_000, "Deep markdown words about kites."));
    h.write("self-drawing.pdf", lore_testkit::hostile::self_drawing_form_pdf("A form that draws itself."));
    h.write("parent-cycle.pdf", lore_testkit::hostile::parent_cycle_pdf());
    let report = h.sync().await;
    let failed: Vec<&str> = report.failures.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(failed, ["parent-cycle.pdf", "self-drawing.pdf"], "{:#?}", report.failures);
    assert_eq!(report.counts.indexed, 3, "{report:#?}");
    assert!(!h.text_search("lanterns").is_empty(), "text under deep nesting is kept");
    assert!(!h.text_search("kites").is_empty());
    h.assert_consistent().await;
}

/// Swaps a file for a link once the folder has been scanned, before its files are read.
struct SwapAfterScan {
    file: PathBuf,
    target: PathBuf,
}

impl lore_ingest::Progress for SwapAfterScan {
    fn event(&self, event: lore_ingest::ProgressEvent<'_>) {
        if let lore_ingest::ProgressEvent::Planned { .. } = event {
            std::fs::remove_file(&self.file).unwrap();
            std::os::unix::fs::symlink(&self.target, &self.file).unwrap();
        }
    }
}

#[tokio::test]
async fn a_file_swapped_for_a_link_after_the_scan_is_not_read() {
    let h = Harness::new().await;
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "The root password is hunter2.").unwrap();
    for (name, target) in [("notes.txt", outside.path().join("secret.txt")), ("zero.txt", "/dev/zero".into())] {
        h.write(name, "Ordinary notes about the weekly meeting.");
        let swap = Arc::new(SwapAfterScan { file: h.docs.join(name), target });
        let report = h.syncer.sync(&h.options(), swap, Arc::new(AtomicBool::new(false))).await.unwrap();
        let failure = report.failures.iter().find(|f| f.path == name).unwrap_or_else(|| panic!("{report:#?}"));
        assert!(failure.error.starts_with("not read:"), "{}", failure.error);
        std::fs::remove_file(h.docs.join(name)).unwrap();
    }
    assert!(h.text_search("hunter2").is_empty(), "the secret was not indexed");
}
