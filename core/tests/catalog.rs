//! The catalog contract: every implementation of `Catalog` behaves the same. Each test runs on SQLite
//! (a fresh file) and on PostgreSQL (a fresh database on the test binary's throwaway cluster).

use std::path::Path;
use std::sync::Arc;

use lore_core::acl::DocumentAcl;
use lore_core::catalog::{
    Catalog, CatalogError, CompletedDocument, DocumentStatus, FailedFile, FileFacts, PostgresCatalog, RunCounts,
    RunOutcome, SqliteCatalog,
};
use lore_core::{Chunk, ChunkId, DocumentId, DocumentKind};

/// Generates one test per engine from `async fn name(catalog: Arc<dyn Catalog>)`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let catalog = lore_core::catalog::SqliteCatalog::open(&dir.path().join("catalog.sqlite")).await.unwrap();
                super::$name(std::sync::Arc::new(catalog)).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let url = lore_testkit::postgres::database();
                let catalog = lore_core::catalog::PostgresCatalog::open(&url, 4).await.unwrap();
                super::$name(std::sync::Arc::new(catalog)).await;
            })*
        }
    };
}

contract!(
    sources_are_created_once_and_keep_their_root,
    documents_go_pending_then_indexed_with_their_chunks,
    failures_keep_an_indexed_version_searchable,
    relabelling_marks_then_restores_indexed_documents,
    removal_and_touch_follow_the_protocol,
    runs_record_counts_and_last_sync,
    nul_characters_are_stored_without_moving_offsets,
    large_documents_and_id_lists_span_several_statements,
    deleting_a_source_removes_its_documents,
);

fn acl(principals: &[&str]) -> Vec<String> {
    principals.iter().map(|p| p.to_string()).collect()
}

fn facts(path: &str, hash: &str) -> FileFacts {
    FileFacts {
        path: path.into(),
        kind: DocumentKind::Markdown,
        size_bytes: 100,
        modified_ms: 1_000,
        content_hash: hash.into(),
        acl: DocumentAcl::resolve(&acl(&["everyone"]), None, None),
    }
}

fn chunks(document: DocumentId, n: u32) -> Vec<Chunk> {
    (0..n)
        .map(|ordinal| Chunk {
            id: ChunkId::new(document, ordinal).unwrap(),
            ordinal,
            text: format!("chunk {ordinal} text"),
            page: (ordinal % 2 == 0).then_some(ordinal / 2 + 1),
            heading: (ordinal % 3 == 0).then(|| format!("Heading {ordinal}")),
            start: ordinal as usize * 10,
            end: ordinal as usize * 10 + 9,
            tokens: 4,
        })
        .collect()
}

fn completed(id: DocumentId, n: u32) -> CompletedDocument {
    CompletedDocument {
        id,
        title: format!("Document {}", id.0),
        pages: Some(3),
        text: "x".repeat(n as usize * 10),
        page_starts: vec![0, 10, 20],
        chunks: chunks(id, n),
    }
}

async fn sources_are_created_once_and_keep_their_root(catalog: Arc<dyn Catalog>) {
    let wiki = catalog.ensure_source("wiki", Path::new("/srv/wiki"), &acl(&["group:staff"])).await.unwrap();
    assert_eq!(wiki.name, "wiki");
    assert_eq!(wiki.acl, acl(&["group:staff"]));
    assert_eq!(wiki.last_synced_ms, None);
    // Same name and root: the existing source, ACL unchanged (only a relabel changes it).
    let again = catalog.ensure_source("wiki", Path::new("/srv/wiki"), &acl(&["everyone"])).await.unwrap();
    assert_eq!(again, wiki);
    let conflict = catalog.ensure_source("wiki", Path::new("/srv/other"), &acl(&["everyone"])).await;
    assert!(matches!(conflict, Err(CatalogError::SourceRootConflict { .. })), "{conflict:?}");
    catalog.ensure_source("handbook", Path::new("/srv/handbook"), &acl(&["everyone"])).await.unwrap();
    let names: Vec<String> = catalog.sources().await.unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["handbook", "wiki"]);
    assert_eq!(catalog.source_by_name("wiki").await.unwrap(), Some(wiki));
    assert_eq!(catalog.source_by_name("nope").await.unwrap(), None);
}

async fn documents_go_pending_then_indexed_with_their_chunks(catalog: Arc<dyn Catalog>) {
    let source = catalog.ensure_source("s", Path::new("/s"), &acl(&["everyone"])).await.unwrap();
    let ids = catalog.begin_documents(source.id, &[facts("a.md", "h1"), facts("b.md", "h2")]).await.unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(catalog.pending_documents().await.unwrap(), ids);
    assert_eq!(catalog.status().await.unwrap().pending, 2);
    // Beginning again keeps the ids.
    assert_eq!(catalog.begin_documents(source.id, &[facts("a.md", "h1b")]).await.unwrap(), vec![ids[0]]);

    catalog.complete_documents(&[completed(ids[0], 5), completed(ids[1], 2)]).await.unwrap();
    assert!(catalog.pending_documents().await.unwrap().is_empty());
    let states = catalog.documents(source.id).await.unwrap();
    let a = states.iter().find(|d| d.path == "a.md").unwrap();
    assert_eq!(
        (a.status, a.content_hash.as_str(), a.size_bytes, a.modified_ms),
        (DocumentStatus::Indexed, "h1b", 100, 1_000)
    );
    assert_eq!(catalog.chunks_of(ids[0]).await.unwrap(), chunks(ids[0], 5));
    assert_eq!(catalog.document_text(ids[1]).await.unwrap(), Some("x".repeat(20)));
    assert_eq!(catalog.chunk_counts().await.unwrap().into_iter().collect::<Vec<_>>(), vec![(ids[0], 5), (ids[1], 2)]);
    assert!(catalog.miscounted_documents().await.unwrap().is_empty());

    let record = catalog.document(ids[0]).await.unwrap().unwrap();
    assert_eq!(record.source, "s");
    assert_eq!(record.acl, acl(&["everyone"]));
    assert_eq!((record.kind, record.title.as_str(), record.pages), (DocumentKind::Markdown, "Document 1", Some(3)));
    assert_eq!((record.chunk_count, record.status), (5, DocumentStatus::Indexed));
    assert_eq!(record.page_starts, vec![0, 10, 20]);
    assert_eq!(catalog.document(DocumentId(999_999)).await.unwrap(), None);

    let status = catalog.status().await.unwrap();
    assert_eq!(status.sources.len(), 1);
    assert_eq!((status.sources[0].documents, status.sources[0].chunks, status.sources[0].failed), (2, 7, 0));
    // Re-indexing replaces the chunks.
    catalog.begin_documents(source.id, &[facts("a.md", "h1c")]).await.unwrap();
    catalog.complete_documents(&[completed(ids[0], 3)]).await.unwrap();
    assert_eq!(catalog.chunks_of(ids[0]).await.unwrap(), chunks(ids[0], 3));
    assert!(catalog.miscounted_documents().await.unwrap().is_empty());
}

async fn failures_keep_an_indexed_version_searchable(catalog: Arc<dyn Catalog>) {
    let source = catalog.ensure_source("s", Path::new("/s"), &acl(&["everyone"])).await.unwrap();
    let ids = catalog.begin_documents(source.id, &[facts("good.md", "h1")]).await.unwrap();
    catalog.complete_documents(&[completed(ids[0], 2)]).await.unwrap();
    let failure = |path: &str, status| FailedFile {
        facts: facts(path, "h2"),
        title: path.to_string(),
        status,
        error: format!("{path} is broken"),
    };
    catalog
        .record_failures(
            source.id,
            &[failure("good.md", DocumentStatus::Failed), failure("scan.pdf", DocumentStatus::NoText)],
        )
        .await
        .unwrap();
    let states = catalog.documents(source.id).await.unwrap();
    let good = states.iter().find(|d| d.path == "good.md").unwrap();
    assert_eq!((good.status, good.error.as_deref()), (DocumentStatus::Indexed, Some("good.md is broken")));
    let scan = states.iter().find(|d| d.path == "scan.pdf").unwrap();
    assert_eq!(scan.status, DocumentStatus::NoText);
    assert_eq!(catalog.chunks_of(ids[0]).await.unwrap().len(), 2);
    assert_eq!(catalog.document(ids[0]).await.unwrap().unwrap().title, "Document 1");

    let all = catalog.failures(None).await.unwrap();
    assert_eq!(all.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["good.md", "scan.pdf"]);
    assert_eq!(catalog.failures(Some(source.id)).await.unwrap(), all);
    let other = catalog.ensure_source("t", Path::new("/t"), &acl(&["everyone"])).await.unwrap();
    assert!(catalog.failures(Some(other.id)).await.unwrap().is_empty());
    assert_eq!(catalog.status().await.unwrap().sources.iter().find(|s| s.name == "s").unwrap().failed, 2);
}

async fn relabelling_marks_then_restores_indexed_documents(catalog: Arc<dyn Catalog>) {
    let source = catalog.ensure_source("s", Path::new("/s"), &acl(&["everyone"])).await.unwrap();
    let ids = catalog.begin_documents(source.id, &[facts("b.md", "h"), facts("a.md", "h")]).await.unwrap();
    catalog.complete_documents(&[completed(ids[0], 1), completed(ids[1], 1)]).await.unwrap();
    catalog
        .record_failures(
            source.id,
            &[FailedFile {
                facts: facts("c.md", "h"),
                title: "c".into(),
                status: DocumentStatus::Failed,
                error: "e".into(),
            }],
        )
        .await
        .unwrap();
    assert_eq!(catalog.document_acls().await.unwrap().len(), 2);

    // b moves under an ACL file, a's page narrows it, c (failed, never indexed) takes its ACL only.
    let hr = DocumentAcl::resolve(&acl(&["group:hr"]), Some("hr/.lore-acl".into()), None);
    let narrowed = DocumentAcl::resolve(&acl(&["everyone"]), None, Some(acl(&["user:pat"])));
    let c = catalog.documents(source.id).await.unwrap().into_iter().find(|d| d.path == "c.md").unwrap().id;
    let changes = [(ids[0], hr.clone()), (ids[1], narrowed.clone()), (c, hr.clone())];
    let marked = catalog.begin_relabel(&changes).await.unwrap();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(marked, expected, "the indexed documents, sorted; not the failed one");
    assert!(catalog.document_acls().await.unwrap().is_empty(), "pending documents have no ACL to check");
    catalog.set_source_acl(source.id, &acl(&["group:staff"])).await.unwrap();
    assert_eq!(catalog.source_by_name("s").await.unwrap().unwrap().acl, acl(&["group:staff"]));
    catalog.finish_relabel(&marked).await.unwrap();
    let acls = catalog.document_acls().await.unwrap();
    assert_eq!(acls.keys().copied().collect::<Vec<_>>(), expected);
    assert_eq!(acls[&ids[0]], acl(&["group:hr"]), "a document keeps its own ACL, not its source's");
    assert_eq!(acls[&ids[1]], acl(&["user:pat"]));

    let states = catalog.documents(source.id).await.unwrap();
    let state = |id: DocumentId| states.iter().find(|d| d.id == id).unwrap().clone();
    assert_eq!((state(ids[0]).acl, state(ids[1]).acl, state(c).acl), (hr.clone(), narrowed, hr));
    assert_eq!(state(c).status, DocumentStatus::Failed);
    let record = catalog.document(ids[0]).await.unwrap().unwrap();
    assert_eq!(
        (record.acl, record.acl_file.as_deref(), record.page_acl),
        (acl(&["group:hr"]), Some("hr/.lore-acl"), None)
    );
    let page = catalog.document(ids[1]).await.unwrap().unwrap();
    assert_eq!(page.page_acl, Some(acl(&["user:pat"])));

    let mut counts = catalog.acl_counts().await.unwrap();
    counts.sort_by(|x, y| x.acl.cmp(&y.acl));
    let shape: Vec<(Vec<String>, u64, u64, u64)> =
        counts.iter().map(|c| (c.acl.clone(), c.documents, c.chunks, c.failed)).collect();
    assert_eq!(shape, [(acl(&["group:hr"]), 1, 1, 1), (acl(&["user:pat"]), 1, 1, 0)]);
}

async fn removal_and_touch_follow_the_protocol(catalog: Arc<dyn Catalog>) {
    let source = catalog.ensure_source("s", Path::new("/s"), &acl(&["everyone"])).await.unwrap();
    let ids = catalog.begin_documents(source.id, &[facts("a.md", "h"), facts("b.md", "h")]).await.unwrap();
    catalog.complete_documents(&[completed(ids[0], 2), completed(ids[1], 2)]).await.unwrap();
    catalog.touch_documents(&[(ids[0], 5_000)]).await.unwrap();
    let states = catalog.documents(source.id).await.unwrap();
    assert_eq!(states.iter().find(|d| d.id == ids[0]).unwrap().modified_ms, 5_000);

    catalog.mark_pending(&[ids[1]]).await.unwrap();
    assert_eq!(catalog.pending_documents().await.unwrap(), vec![ids[1]]);
    assert_eq!(catalog.pending_documents_of(source.id).await.unwrap(), vec![ids[1]]);
    let other = catalog.ensure_source("t", Path::new("/t"), &acl(&["everyone"])).await.unwrap();
    assert!(catalog.pending_documents_of(other.id).await.unwrap().is_empty());
    catalog.delete_documents(&[ids[1]]).await.unwrap();
    assert!(catalog.pending_documents().await.unwrap().is_empty());
    assert_eq!(catalog.documents(source.id).await.unwrap().len(), 1);
    assert!(catalog.chunks_of(ids[1]).await.unwrap().is_empty(), "chunks go with their document");
    assert_eq!(catalog.document_text(ids[1]).await.unwrap(), None);
}

async fn runs_record_counts_and_last_sync(catalog: Arc<dyn Catalog>) {
    let source = catalog.ensure_source("s", Path::new("/s"), &acl(&["everyone"])).await.unwrap();
    let counts = RunCounts { scanned: 3, indexed: 2, unchanged: 1, removed: 0, failed: 0, chunks: 9 };
    let failed = catalog.start_run(source.id).await.unwrap();
    catalog.finish_run(failed, &counts, RunOutcome::Failed, Some("disk gone")).await.unwrap();
    assert_eq!(catalog.source_by_name("s").await.unwrap().unwrap().last_synced_ms, None, "only a completed run syncs");
    let run = catalog.start_run(source.id).await.unwrap();
    assert_ne!(run, failed);
    catalog.finish_run(run, &counts, RunOutcome::Completed, None).await.unwrap();
    assert!(catalog.source_by_name("s").await.unwrap().unwrap().last_synced_ms.is_some());
    let other = catalog.ensure_source("t", Path::new("/t"), &acl(&["everyone"])).await.unwrap();
    catalog.start_run(other.id).await.unwrap();
    assert_eq!(catalog.interrupt_stale_runs_of(source.id).await.unwrap(), 0, "only the other source runs");
    assert_eq!(catalog.interrupt_stale_runs_of(other.id).await.unwrap(), 1);
    catalog.start_run(source.id).await.unwrap();
    catalog.start_run(source.id).await.unwrap();
    assert_eq!(catalog.interrupt_stale_runs().await.unwrap(), 2);
    assert_eq!(catalog.interrupt_stale_runs().await.unwrap(), 0);
}

async fn nul_characters_are_stored_without_moving_offsets(catalog: Arc<dyn Catalog>) {
    let source = catalog.ensure_source("s", Path::new("/s"), &acl(&["everyone"])).await.unwrap();
    let ids = catalog.begin_documents(source.id, &[facts("nul.md", "h")]).await.unwrap();
    let mut doc = completed(ids[0], 1);
    doc.title = "Ti\0tle".into();
    doc.text = "ab\0cd".into();
    doc.chunks[0].text = "b\0c".into();
    doc.chunks[0].heading = Some("He\0ad".into());
    catalog.complete_documents(&[doc]).await.unwrap();
    let text = catalog.document_text(ids[0]).await.unwrap().unwrap();
    assert_eq!(text, "ab\u{fffd}cd");
    assert_eq!(text.chars().count(), 5);
    let chunk = &catalog.chunks_of(ids[0]).await.unwrap()[0];
    assert_eq!((chunk.text.as_str(), chunk.heading.as_deref()), ("b\u{fffd}c", Some("He\u{fffd}ad")));
    assert_eq!(catalog.document(ids[0]).await.unwrap().unwrap().title, "Ti\u{fffd}tle");
    let failure = FailedFile {
        facts: facts("bad.md", "h"),
        title: "x".into(),
        status: DocumentStatus::Failed,
        error: "bad \0 byte".into(),
    };
    catalog.record_failures(source.id, &[failure]).await.unwrap();
    assert_eq!(catalog.failures(None).await.unwrap()[0].error, "bad \u{fffd} byte");
}

async fn large_documents_and_id_lists_span_several_statements(catalog: Arc<dyn Catalog>) {
    let source = catalog.ensure_source("s", Path::new("/s"), &acl(&["everyone"])).await.unwrap();
    let ids = catalog.begin_documents(source.id, &[facts("manual.pdf", "h")]).await.unwrap();
    catalog.complete_documents(&[completed(ids[0], 2_500)]).await.unwrap();
    assert_eq!(catalog.chunks_of(ids[0]).await.unwrap().len(), 2_500);
    let many: Vec<FileFacts> = (0..1_200).map(|n| facts(&format!("f{n}.md"), "h")).collect();
    let many_ids = catalog.begin_documents(source.id, &many).await.unwrap();
    assert_eq!(catalog.pending_documents().await.unwrap().len(), 1_200);
    catalog.delete_documents(&many_ids).await.unwrap();
    assert_eq!(catalog.documents(source.id).await.unwrap().len(), 1);
}

async fn deleting_a_source_removes_its_documents(catalog: Arc<dyn Catalog>) {
    let source = catalog.ensure_source("s", Path::new("/s"), &acl(&["everyone"])).await.unwrap();
    let ids = catalog.begin_documents(source.id, &[facts("a.md", "h")]).await.unwrap();
    catalog.complete_documents(&[completed(ids[0], 2)]).await.unwrap();
    let run = catalog.start_run(source.id).await.unwrap();
    catalog.finish_run(run, &RunCounts::default(), RunOutcome::Completed, None).await.unwrap();
    catalog.delete_documents(&ids).await.unwrap();
    catalog.delete_source(source.id).await.unwrap();
    assert!(catalog.sources().await.unwrap().is_empty());
    assert!(catalog.status().await.unwrap().sources.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrations_are_safe_when_processes_start_at_once() {
    let url = lore_testkit::postgres::database();
    let opens: Vec<_> = (0..6)
        .map(|_| {
            tokio::spawn({
                let url = url.clone();
                async move { PostgresCatalog::open(&url, 2).await.map(|_| ()) }
            })
        })
        .collect();
    for open in opens {
        open.await.unwrap().expect("every process opens the catalog");
    }
    let catalog = PostgresCatalog::open(&url, 2).await.unwrap();
    catalog.ensure_source("s", Path::new("/s"), &acl(&["everyone"])).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_postgres_says_where_without_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://lore:hunter2@127.0.0.1:{port}/lore");
    let started = std::time::Instant::now();
    let error = PostgresCatalog::open(&url, 1).await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, CatalogError::Unreachable { .. }), "{message}");
    assert!(message.contains(&format!("postgres://lore:***@127.0.0.1:{port}/lore")), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "it fails within the connect timeout");
}

#[tokio::test]
async fn the_embedded_catalog_reads_while_it_is_open_for_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite");
    let writer = SqliteCatalog::open(&path).await.unwrap();
    writer.ensure_source("s", Path::new("/s"), &acl(&["everyone"])).await.unwrap();
    let reader = SqliteCatalog::open_read_only(&path).await.unwrap();
    assert_eq!(reader.sources().await.unwrap().len(), 1);
}
