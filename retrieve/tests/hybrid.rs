//! Hybrid retrieval on real components: documents ingested by the real pipeline (ONNX embedder, tantivy
//! and Qdrant Edge on disk, SQLite), searched through the public API as users with given principals.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use lore_core::config::{Config, FusionMethod};
use lore_core::datadir::DataDir;
use lore_core::embed::{Embedder, OnnxEmbedder, TokenCounter};
use lore_core::{DocumentKind, EVERYONE};
use lore_ingest::chunk::Chunker;
use lore_ingest::progress::NoProgress;
use lore_ingest::{Stores, SyncOptions, Syncer};
use lore_retrieve::{Access, Hit, Mode, Narrowing, Retriever, SearchError, SearchRequest};
use lore_testkit::{docs, set_mtime};
use tempfile::TempDir;

const ALL_MODES: [Mode; 4] =
    [Mode::Bm25, Mode::Dense, Mode::Hybrid(FusionMethod::Rrf), Mode::Hybrid(FusionMethod::Convex)];

/// Fields drop in order: the stores must close before their temporary directory is deleted.
struct Harness {
    syncer: Syncer,
    retriever: Retriever,
    dir: TempDir,
}

impl Harness {
    async fn new(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = lore_testkit::config(&dir.path().join("data"));
        tweak(&mut config);
        let embedder: Arc<dyn Embedder> =
            Arc::new(OnnxEmbedder::from_config(&config).expect("the test embedder loads"));
        let chunker = Chunker::new(TokenCounter::from_dir(&config.tokenizer_dir()).unwrap(), &config.chunking).unwrap();
        let stores = Stores::open_embedded(&DataDir::create(&config.data_dir).unwrap(), 384, "test").await.unwrap();
        let retriever =
            Retriever::new(stores.text.clone(), stores.vectors.clone(), embedder.clone(), config.retrieval.clone());
        let syncer = Syncer::new(Arc::new(config), stores, embedder, Arc::new(chunker));
        Self { syncer, retriever, dir }
    }

    /// Writes `files` into the folder of source `name` and syncs it, readable by `acl`.
    async fn source(&self, name: &str, acl: &[&str], files: &[(&str, String)]) {
        let root = self.root(name);
        for (relative, content) in files {
            let path = root.join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
        }
        self.sync(name, acl).await;
    }

    async fn sync(&self, name: &str, acl: &[&str]) {
        let options = SyncOptions {
            source: name.into(),
            root: self.root(name),
            acl: Some(acl.iter().map(|p| p.to_string()).collect()),
            retry_failed: false,
        };
        let report = self
            .syncer
            .sync(&options, Arc::new(NoProgress), Arc::new(AtomicBool::new(false)))
            .await
            .expect("sync runs");
        assert_eq!(report.counts.failed, 0, "{report:?}");
    }

    fn root(&self, source: &str) -> PathBuf {
        self.dir.path().join("sources").join(source)
    }

    async fn search(&self, request: SearchRequest) -> Vec<Hit> {
        self.retriever.search(&request).await.expect("search runs").hits
    }

    async fn paths(&self, query: &str, access: Access, mode: Mode) -> Vec<String> {
        let request = SearchRequest { mode: Some(mode), ..SearchRequest::new(query, access) };
        self.search(request).await.into_iter().map(|h| h.document_path).collect()
    }
}

impl Harness {
    /// `source:path` of every hit for "nightly backups" under a narrowing, sorted.
    async fn narrowed(&self, mode: Mode, narrowing: Narrowing) -> Vec<String> {
        let request =
            SearchRequest { narrowing, mode: Some(mode), ..SearchRequest::new("nightly backups", Access::everyone()) };
        let mut found: Vec<String> =
            self.search(request).await.into_iter().map(|hit| format!("{}:{}", hit.source, hit.document_path)).collect();
        found.sort();
        found
    }
}

fn hr() -> Access {
    Access::Principals(vec!["hr".into()])
}

const SALARIES: &str = "Salary bands for software engineers: level one earns between 60,000 and 75,000 euros; \
    the compensation committee reviews the bands every spring.";
const CAFETERIA: &str = "The cafeteria on floor 3 serves breakfast from 8 to 10 and lunch from 12 to 14. \
    Vegetarian dishes are marked green on the menu.";

#[tokio::test]
async fn a_chunk_is_found_by_principals_that_may_read_it_and_by_no_one_else_in_both_engines() {
    let h = Harness::new(|_| {}).await;
    h.source("public", &[EVERYONE], &[("cafeteria.md", format!("# Cafeteria\n\n{CAFETERIA}"))]).await;
    h.source("hr", &["hr"], &[("salaries.md", format!("# Salary bands\n\n{SALARIES}"))]).await;

    for mode in ALL_MODES {
        let query = "salary bands for software engineers";
        let as_staff = h.paths(query, Access::everyone(), mode).await;
        assert!(!as_staff.contains(&"salaries.md".to_string()), "{mode:?} leaked a restricted chunk: {as_staff:?}");
        let as_other_group = h.paths(query, Access::Principals(vec!["finance".into()]), mode).await;
        assert!(!as_other_group.contains(&"salaries.md".to_string()), "{mode:?}: {as_other_group:?}");
        let as_hr = h.paths(query, hr(), mode).await;
        assert_eq!(as_hr.first().map(String::as_str), Some("salaries.md"), "{mode:?}: {as_hr:?}");
        let public_as_hr = h.paths("cafeteria menu", hr(), mode).await;
        assert_eq!(
            public_as_hr.first().map(String::as_str),
            Some("cafeteria.md"),
            "{mode:?}: hr sees public documents"
        );
        let unrestricted = h.paths(query, Access::Unrestricted, mode).await;
        assert_eq!(unrestricted.first().map(String::as_str), Some("salaries.md"), "{mode:?}");
    }
}

#[tokio::test]
async fn permission_filters_apply_before_ranking_so_restricted_chunks_never_crowd_out_visible_ones() {
    // Each engine contributes 5 candidates while 12 restricted documents match better than the 3 visible
    // ones: filtering after ranking would leave nothing to show.
    let h = Harness::new(|c| c.retrieval.candidates = 5).await;
    let restricted: Vec<(String, String)> = (0..12)
        .map(|i| {
            let body = format!("Quarterly payroll report {i}: payroll totals, payroll taxes and payroll deductions.");
            (format!("payroll-{i:02}.md"), format!("# Payroll report {i}\n\n{body}"))
        })
        .collect();
    let restricted: Vec<(&str, String)> = restricted.iter().map(|(p, c)| (p.as_str(), c.clone())).collect();
    h.source("hr", &["hr"], &restricted).await;
    let visible = [
        ("expenses.md", "# Expenses\n\nSubmit the quarterly expense report before the payroll run.".to_string()),
        ("calendar.md", "# Calendar\n\nThe payroll calendar lists the quarterly closing dates.".to_string()),
        ("benefits.md", "# Benefits\n\nBenefits appear on your payroll statement each month.".to_string()),
    ];
    h.source("public", &[EVERYONE], &visible).await;

    for mode in ALL_MODES {
        let request = SearchRequest {
            limit: 3,
            mode: Some(mode),
            ..SearchRequest::new("quarterly payroll report", Access::everyone())
        };
        let mut paths: Vec<String> = h.search(request).await.into_iter().map(|hit| hit.document_path).collect();
        paths.sort();
        assert_eq!(paths, ["benefits.md", "calendar.md", "expenses.md"], "{mode:?}");
    }
}

#[tokio::test]
async fn narrowing_by_source_type_and_modification_date_applies_in_both_engines() {
    let h = Harness::new(|_| {}).await;
    let text = "Backups of the build servers run nightly at 02:00 and are kept for thirty days.";
    let txt = "Nightly backups of the mail server are copied to the second data centre.";
    let runbook = "Runbook: when the nightly backups fail, page the on-call operator and rerun the job by hand.";
    // The modification date a filter sees is the file's when its content was indexed.
    let wiki = h.root("wiki");
    std::fs::create_dir_all(&wiki).unwrap();
    std::fs::write(wiki.join("backups.md"), format!("# Backups\n\n{text}")).unwrap();
    set_mtime(&wiki.join("backups.md"), 1_700_000_000); // 2023-11-14
    h.source("wiki", &[EVERYONE], &[("backups.txt", txt.to_string())]).await;
    h.source("ops", &[EVERYONE], &[("runbook.txt", runbook.to_string())]).await;

    for mode in ALL_MODES {
        let by_source = h.narrowed(mode, Narrowing { sources: vec!["ops".into()], ..Default::default() }).await;
        assert_eq!(by_source, ["ops:runbook.txt"], "{mode:?}");
        let by_kind = h.narrowed(mode, Narrowing { kinds: vec![DocumentKind::Markdown], ..Default::default() }).await;
        assert_eq!(by_kind, ["wiki:backups.md"], "{mode:?}");
        let before_2024 =
            h.narrowed(mode, Narrowing { modified_before_ms: Some(1_704_067_200_000), ..Default::default() }).await;
        assert_eq!(before_2024, ["wiki:backups.md"], "{mode:?}");
        let since_2024 =
            h.narrowed(mode, Narrowing { modified_after_ms: Some(1_704_067_200_000), ..Default::default() }).await;
        assert!(
            !since_2024.contains(&"wiki:backups.md".to_string()) && since_2024.len() == 2,
            "{mode:?}: {since_2024:?}"
        );
    }
}

#[tokio::test]
async fn new_commits_are_searchable_without_reopening_anything() {
    let h = Harness::new(|_| {}).await;
    h.source("public", &[EVERYONE], &[("cafeteria.md", format!("# Cafeteria\n\n{CAFETERIA}"))]).await;
    let before = h.paths("parking garage opening hours", Access::everyone(), Mode::Bm25).await;
    assert!(!before.contains(&"parking.md".to_string()));

    let parking = "# Parking\n\nThe parking garage opens at 6:30 and closes at 22:00; badges open the barrier.";
    h.source("public", &[EVERYONE], &[("parking.md", parking.to_string())]).await;
    for mode in ALL_MODES {
        let after = h.paths("parking garage opening hours", Access::everyone(), mode).await;
        assert_eq!(after.first().map(String::as_str), Some("parking.md"), "{mode:?}: {after:?}");
    }
}

#[tokio::test]
async fn the_same_passage_in_two_documents_shows_once_with_the_other_place_noted() {
    let h = Harness::new(|_| {}).await;
    let policy =
        format!("Remote work. {} {}", docs::filler(7, 5), "Employees may work remotely up to three days a week.");
    h.source(
        "public",
        &[EVERYONE],
        &[
            ("handbook/remote.md", format!("# Remote work\n\n{policy}")),
            ("archive/remote-copy.md", format!("# Remote work\n\n{policy}")),
            ("other.md", "# Office\n\nThe office is open five days a week; badges work at the side door.".to_string()),
        ],
    )
    .await;
    for mode in ALL_MODES {
        let hits = h
            .search(SearchRequest {
                mode: Some(mode),
                ..SearchRequest::new("work remotely three days", Access::everyone())
            })
            .await;
        let copies: Vec<&Hit> = hits.iter().filter(|hit| hit.document_path.contains("remote")).collect();
        assert_eq!(copies.len(), 1, "{mode:?}: {hits:#?}");
        assert_eq!(copies[0].also_in.len(), 1, "{mode:?}");
        assert!(hits.iter().any(|hit| hit.document_path == "other.md"), "the collapse frees a place for other hits");
    }
}

#[tokio::test]
async fn hits_carry_title_place_and_a_snippet_with_the_query_words_marked() {
    let h = Harness::new(|_| {}).await;
    let page = docs::wiki_page("VPN setup", "<h1>VPN setup</h1><h2>Troubleshooting</h2><p>If the handshake never completes, check that UDP port 51820 is open.</p>");
    h.source("wiki", &[EVERYONE], &[("vpn.html", page)]).await;
    let hits = h.search(SearchRequest::new("handshake never completes", Access::everyone())).await;
    let hit = &hits[0];
    assert!(hit.title.starts_with("VPN setup"), "{}", hit.title);
    assert_eq!((hit.document_path.as_str(), hit.page), ("vpn.html", None));
    assert!(hit.heading.as_deref().unwrap_or_default().contains("Troubleshooting"), "{hit:?}");
    let marked: Vec<&str> = hit.snippet.highlights.iter().map(|r| &hit.snippet.text[r.clone()]).collect();
    assert!(marked.contains(&"handshake") && marked.contains(&"completes"), "{marked:?}");
    assert!(hit.snippet.to_html().contains("<mark>handshake</mark>"));
    assert!(hit.text.contains("UDP port 51820") && hit.start < hit.end);
}

#[tokio::test]
async fn any_user_input_gives_results_or_a_clear_message() {
    let h = Harness::new(|_| {}).await;
    h.source("public", &[EVERYONE], &[("cafeteria.md", format!("# Cafeteria\n\n{CAFETERIA}"))]).await;
    let awkward = [
        "\"vegetarian dishes",
        "menu: (lunch AND breakfast) OR NOT \"green",
        "title:cafeteria",
        "lunch* ~2 ^3 [8 TO 10] {a} \\ / ! ? + - && || :",
        "AND",
        "\"\"",
        "кафетерий обед меню",
        "食堂のメニュー",
        "مقصف الغداء",
        "Café crème brûlée",
        "🍕🍕🍕",
    ];
    for query in awkward {
        for mode in ALL_MODES {
            let results = h
                .retriever
                .search(&SearchRequest { mode: Some(mode), ..SearchRequest::new(query, Access::everyone()) })
                .await;
            assert!(results.is_ok(), "{query:?} in {mode:?}: {results:?}");
        }
    }
    let found = h.paths("menu: (lunch AND breakfast)", Access::everyone(), Mode::Bm25).await;
    assert_eq!(found, ["cafeteria.md"], "syntax characters are read as words");

    let long = format!("{} lunch menu", "cafeteria vegetarian breakfast schedule ".repeat(250));
    assert!(long.len() >= 10_000);
    let results =
        h.retriever.search(&SearchRequest::new(long, Access::everyone())).await.expect("a long query searches");
    assert!(results.query_truncated && !results.hits.is_empty());

    for blank in ["", "   ", "\n\t"] {
        let err = h.retriever.search(&SearchRequest::new(blank, Access::everyone())).await.unwrap_err();
        assert!(matches!(err, SearchError::EmptyQuery), "{err}");
        assert_eq!(err.to_string(), "the query is empty: type a few words or a question");
    }
}

#[tokio::test]
async fn pages_do_not_overlap_and_continue_the_ranking() {
    let h = Harness::new(|_| {}).await;
    let files: Vec<(String, String)> = (0..8)
        .map(|i| {
            (
                format!("note-{i}.md"),
                format!("# Note {i}\n\nThe shuttle bus timetable, part {i}. {}", docs::filler(i, 2)),
            )
        })
        .collect();
    let files: Vec<(&str, String)> = files.iter().map(|(p, c)| (p.as_str(), c.clone())).collect();
    h.source("public", &[EVERYONE], &files).await;
    let page =
        |offset| SearchRequest { limit: 3, offset, ..SearchRequest::new("shuttle bus timetable", Access::everyone()) };
    let all =
        h.search(SearchRequest { limit: 6, ..SearchRequest::new("shuttle bus timetable", Access::everyone()) }).await;
    let first = h.search(page(0)).await;
    let second = h.search(page(3)).await;
    let ids = |hits: &[Hit]| hits.iter().map(|hit| hit.chunk_id).collect::<Vec<_>>();
    assert_eq!([ids(&first), ids(&second)].concat(), ids(&all));
}
