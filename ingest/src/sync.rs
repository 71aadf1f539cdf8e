//! Sync: give it a folder and the stores, get the stores in agreement with the folder.
//!
//! New and changed files are extracted, chunked, embedded and indexed; unchanged files (same size and
//! modification time, or same content hash) are skipped; files gone from the folder are removed from all
//! three stores. Failures are per file: recorded in the catalog and the report, and the run goes on.
//!
//! Three stages overlap so that the embedder (the bottleneck) never waits:
//!
//! ```text
//! extract workers (threads) --chunks--> embedder (one thread) --vectors--> writer (async task)
//!   read, hash, extract, chunk            batches of chunks                 catalog + indexes, commits
//! ```
//!
//! Chunks flow as soon as they exist: a PDF's pages are chunked and embedded while its later pages are
//! still being extracted, so one huge file does not serialise extraction and embedding. A document is
//! written only when its `Finished` message arrives, after all of its chunks.
//!
//! The writer follows the catalog's pending protocol (see `lore_core::catalog`), so a crash at any
//! point leaves nothing that the next run's recovery does not clean up.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel as channel;
use lore_core::acl::DocumentAcl;
use lore_core::catalog::{
    CatalogError, CompletedDocument, DocumentState, DocumentStatus, FailedFile, FileFacts, RunCounts, RunOutcome,
    SourceRecord,
};
use lore_core::config::Config;
use lore_core::embed::Embedder;
use lore_core::{Chunk, ChunkId, DocumentId, DocumentMeta, EVERYONE};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::acl::FolderAcls;
use crate::chunk::{ChunkDraft, Chunker};
use crate::discover::{discover, DiscoverError, FoundFile};
use crate::extract::{
    extract_with_limits, is_placeholder_title, title_from_path, ExtractError, Extracted, Limits, PdfPage, WaitClock,
};
use crate::progress::{FileOutcome, Progress, ProgressEvent};
use crate::read::read_source_file;
use crate::recover::{purge_from_indexes, recover, recover_source, Recovery};
use crate::stores::{Stores, StoresError};

/// Chunks embedded in one call: large enough to batch well, small enough to report progress often.
const EMBED_GROUP: usize = 256;
/// Messages (a page's chunks, at most a small document's) waiting for the embedder; bounds memory when
/// extraction outpaces embedding.
const CHUNK_QUEUE: usize = 32;
/// Embedded parts waiting for the writer.
const READY_QUEUE: usize = 32;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncOptions {
    pub source: String,
    pub root: PathBuf,
    /// Principals allowed to read the source's documents. `None` keeps an existing source's ACL (a new
    /// source is readable by `everyone`); a different one relabels the chunks of every document it
    /// governs (those without a `.lore-acl` file above them).
    pub acl: Option<Vec<String>>,
    /// Read again the files that failed last time even if they did not change.
    #[serde(default)]
    pub retry_failed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileFailure {
    pub path: String,
    pub error: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    pub source: String,
    pub counts: RunCounts,
    /// Pages of the PDFs indexed in this run.
    pub pages: u64,
    pub failures: Vec<FileFailure>,
    /// Documents whose chunks took a new ACL in this run without being read again (the source's ACL
    /// or an ACL file changed).
    pub relabeled: u64,
    pub recovery: Recovery,
    pub interrupted: bool,
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("cannot read source folder: {0}")]
    Discover(#[from] DiscoverError),
    #[error("cannot resolve source folder {path}: {source}")]
    Root { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Stores(#[from] StoresError),
    #[error("embedding failed, the run stopped: {0}")]
    Embed(#[from] lore_core::embed::EmbedError),
    #[error("there is no source named '{0}'")]
    UnknownSource(String),
}

impl From<CatalogError> for SyncError {
    fn from(e: CatalogError) -> Self {
        Self::Stores(e.into())
    }
}

/// Runs syncs against one set of stores with one embedder and chunker (loaded once, reused).
pub struct Syncer {
    config: Arc<Config>,
    stores: Stores,
    embedder: Arc<dyn Embedder>,
    chunker: Arc<Chunker>,
    recovery: RecoveryScope,
}

/// What a sync cleans up before it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryScope {
    /// Everything a dead writer left (the embedded default: this process is the only writer).
    Everything,
    /// Only what an earlier sync of the same source left: other workers may be writing other sources.
    Source,
}

/// Identifies one file within a run, across the pipeline's messages.
type FileKey = usize;

/// A file whose chunks have all been sent: what the writer needs besides them.
struct Finished {
    key: FileKey,
    facts: FileFacts,
    title: String,
    extracted: Extracted,
}

/// How a file leaves the pipeline; passes through the embedder unchanged, after the file's chunks.
enum FileEnd {
    Unchanged {
        id: DocumentId,
        path: String,
        modified_ms: i64,
        touched: bool,
    },
    Finished(Box<Finished>),
    Failed {
        key: FileKey,
        failed: FailedFile,
    },
    /// Stopped by cancellation: neither indexed nor failed; the next run takes it up again.
    Abandoned {
        key: FileKey,
    },
}

/// What the extract stage says about a file: `Chunks`* then one `End`.
enum Extraction {
    Chunks { key: FileKey, drafts: Vec<ChunkDraft> },
    End(FileEnd),
}

/// What reaches the writer: the same, with chunks embedded.
enum Ready {
    Embedded {
        key: FileKey,
        drafts: Vec<ChunkDraft>,
        vectors: Vec<Vec<f32>>,
    },
    End(FileEnd),
    /// The embedder failed: nothing more will come.
    EmbedFailed(lore_core::embed::EmbedError),
}

struct Job {
    file: FoundFile,
    known: Option<DocumentState>,
    /// What the file's folder grants (the nearest ACL file's principals and path, or the source's).
    folder_acl: (Vec<String>, Option<String>),
}

impl Syncer {
    pub fn new(config: Arc<Config>, stores: Stores, embedder: Arc<dyn Embedder>, chunker: Arc<Chunker>) -> Self {
        Self { config, stores, embedder, chunker, recovery: RecoveryScope::Everything }
    }

    /// For workers that share the stores with other workers (see [`RecoveryScope::Source`]).
    pub fn with_recovery(self, recovery: RecoveryScope) -> Self {
        Self { recovery, ..self }
    }

    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// Brings the stores in line with `options.root`. `cancel` stops the run early (what was finished is
    /// committed); `progress` hears about every step.
    pub async fn sync(
        &self,
        options: &SyncOptions,
        progress: Arc<dyn Progress>,
        cancel: Arc<AtomicBool>,
    ) -> Result<SyncReport, SyncError> {
        let started = Instant::now();
        let recovery = match self.recovery {
            RecoveryScope::Everything => recover(&self.stores).await?,
            RecoveryScope::Source => match self.stores.catalog.source_by_name(&options.source).await? {
                Some(source) => recover_source(&self.stores, source.id).await?,
                None => Recovery::default(),
            },
        };
        let root = std::fs::canonicalize(&options.root)
            .map_err(|source| SyncError::Root { path: options.root.clone(), source })?;
        progress.event(ProgressEvent::Scanning);
        let discovery = {
            let root = root.clone();
            tokio::task::spawn_blocking(move || discover(&root)).await.expect("discovery does not panic")?
        };
        let requested = options.acl.as_deref().map(normalize_acl);
        let initial = requested.clone().unwrap_or_else(|| vec![EVERYONE.to_string()]);
        let mut source = self.stores.catalog.ensure_source(&options.source, &root, &initial).await?;
        if let Some(acl) = requested {
            if acl != normalize_acl(&source.acl) {
                // The documents take it in this run's relabel pass (see `relabel_documents`).
                self.stores.catalog.set_source_acl(source.id, &acl).await?;
                tracing::info!(source = %source.name, acl = ?acl, "source ACL changed");
                source.acl = acl;
            }
        }
        let run = self.stores.catalog.start_run(source.id).await?;

        let result = self.run(options, &source, discovery, progress.clone(), cancel).await;
        let (report_counts, outcome, error) = match &result {
            Ok(run) if run.interrupted => (run.counts.clone(), RunOutcome::Interrupted, None),
            Ok(run) => (run.counts.clone(), RunOutcome::Completed, None),
            Err(e) => (RunCounts::default(), RunOutcome::Failed, Some(e.to_string())),
        };
        self.stores.catalog.finish_run(run, &report_counts, outcome, error.as_deref()).await?;
        let run = result?;
        if !run.interrupted && run.counts.indexed + run.counts.removed > 0 {
            progress.event(ProgressEvent::Optimizing);
            self.optimize_indexes().await?;
        }
        Ok(SyncReport {
            source: source.name,
            counts: run.counts,
            pages: run.pages,
            failures: run.failures,
            relabeled: run.relabeled,
            recovery,
            interrupted: run.interrupted,
            elapsed: started.elapsed(),
        })
    }

    /// Removes a source and everything indexed from it, by the deletion protocol (mark pending, purge
    /// both indexes, delete), so a crash half-way leaves pending rows the next writer purges. Returns how
    /// many documents went. The files themselves are not touched.
    pub async fn remove_source(&self, name: &str) -> Result<u64, SyncError> {
        let catalog = &self.stores.catalog;
        let source = catalog.source_by_name(name).await?.ok_or_else(|| SyncError::UnknownSource(name.into()))?;
        let documents: Vec<DocumentId> = catalog.documents(source.id).await?.iter().map(|d| d.id).collect();
        if !documents.is_empty() {
            catalog.mark_pending(&documents).await?;
            purge_from_indexes(&self.stores, documents.clone()).await?;
            catalog.delete_documents(&documents).await?;
        }
        catalog.delete_source(source.id).await?;
        tracing::info!(source = name, documents = documents.len(), "source removed");
        Ok(documents.len() as u64)
    }

    /// Gives the chunks of documents whose ACL changed (the source's, an ACL file's) their new ACL in
    /// both indexes, without reading or embedding anything again, by the pending protocol: the catalog
    /// takes the new ACLs and marks the documents pending, both indexes are relabelled and made
    /// durable, then the documents are indexed again. A crash in between leaves them pending and the
    /// next writer purges them (their files are read again with the new ACL), so no chunk is left
    /// readable under the old ACL. Returns how many documents were relabelled.
    async fn relabel_documents(
        &self,
        changed: Vec<(DocumentId, DocumentAcl)>,
        progress: &dyn Progress,
    ) -> Result<u64, SyncError> {
        if changed.is_empty() {
            return Ok(0);
        }
        let mut by_acl: HashMap<Vec<String>, Vec<DocumentId>> = HashMap::new();
        for (id, acl) in &changed {
            by_acl.entry(acl.principals.clone()).or_default().push(*id);
        }
        let documents = self.stores.catalog.begin_relabel(&changed).await?;
        progress.event(ProgressEvent::Relabeling { documents: documents.len() as u64 });
        let stores = self.stores.clone();
        tokio::task::spawn_blocking(move || -> Result<(), StoresError> {
            for (acl, ids) in &by_acl {
                stores.relabel_in_indexes(ids, acl)?;
            }
            stores.persist_indexes()
        })
        .await
        .expect("relabelling does not panic")?;
        self.stores.catalog.finish_relabel(&documents).await?;
        progress.event(ProgressEvent::Relabeled { documents: documents.len() as u64 });
        tracing::info!(documents = documents.len(), "document ACLs changed");
        Ok(documents.len() as u64)
    }

    /// Lets both indexes reorganise what changed (merged text segments, a vector search graph), so that
    /// searches over a large corpus stay fast. Cheap when little changed; the stores hold the same
    /// chunks before and after, so a crash here loses nothing.
    async fn optimize_indexes(&self) -> Result<(), SyncError> {
        let (text, vectors) = (self.stores.text.clone(), self.stores.vectors.clone());
        tokio::task::spawn_blocking(move || -> Result<(), StoresError> {
            text.optimize()?;
            vectors.optimize()?;
            vectors.flush()?;
            Ok(())
        })
        .await
        .unwrap_or_else(|_| Err(lore_core::vectors::VectorError::Engine("an index optimiser crashed".into()).into()))
        .map_err(SyncError::Stores)
    }

    async fn run(
        &self,
        options: &SyncOptions,
        source: &SourceRecord,
        discovery: crate::discover::Discovery,
        progress: Arc<dyn Progress>,
        cancel: Arc<AtomicBool>,
    ) -> Result<RunState, SyncError> {
        let mut state = RunState::default();
        for (path, reason) in &discovery.unreadable {
            state.failures.push(FileFailure { path: path.clone(), error: format!("cannot read: {reason}") });
        }
        let mut known: HashMap<String, DocumentState> =
            self.stores.catalog.documents(source.id).await?.into_iter().map(|d| (d.path.clone(), d)).collect();
        let folders = {
            let (root, acl, files) = (source.root.clone(), source.acl.clone(), discovery.acl_files.clone());
            tokio::task::spawn_blocking(move || FolderAcls::read(&root, &acl, &files))
                .await
                .expect("reading ACL files does not panic")
        };
        let (folders, broken) = folders;
        for broken in broken {
            state.failures.push(FileFailure { path: broken.path, error: broken.error });
        }
        // Documents whose folder now grants something else: relabelled before anything is read.
        let changed: Vec<(DocumentId, DocumentAcl)> = discovery
            .files
            .iter()
            .filter_map(|file| {
                let known = known.get(&file.relative)?;
                let (inherited, acl_file) = folders.for_document(&file.relative);
                let expected = DocumentAcl::resolve(inherited, acl_file.map(str::to_string), known.acl.page.clone());
                (expected != known.acl).then_some((known.id, expected))
            })
            .collect();
        state.relabeled = self.relabel_documents(changed, progress.as_ref()).await?;

        let mut jobs = Vec::new();
        for file in discovery.files.iter().cloned() {
            let (inherited, acl_file) = folders.for_document(&file.relative);
            let folder_acl = (inherited.to_vec(), acl_file.map(str::to_string));
            let previous = known.remove(&file.relative);
            let unchanged = previous.as_ref().is_some_and(|p| {
                p.size_bytes == file.size && p.modified_ms == file.modified_ms && may_skip(p, options.retry_failed)
            });
            if unchanged {
                state.counts.unchanged += 1;
            } else {
                jobs.push(Job { file, known: previous, folder_acl });
            }
        }
        state.counts.scanned = discovery.files.len() as u64;
        // What the catalog knows and the folder no longer has, unless its folder could not be read.
        let removed: Vec<DocumentId> =
            known.into_values().filter(|d| !discovery.is_shadowed(&d.path)).map(|d| d.id).collect();
        progress.event(ProgressEvent::Planned {
            files: state.counts.scanned,
            to_read: jobs.len() as u64,
            unchanged: state.counts.unchanged,
            removed: removed.len() as u64,
        });

        if !removed.is_empty() {
            self.stores.catalog.mark_pending(&removed).await?;
            purge_from_indexes(&self.stores, removed.clone()).await?;
            self.stores.catalog.delete_documents(&removed).await?;
            state.counts.removed = removed.len() as u64;
        }

        if !jobs.is_empty() {
            self.index_files(source, options.retry_failed, jobs, &mut state, progress, cancel).await?;
        }
        Ok(state)
    }

    /// Runs the extract -> embed -> write pipeline over `jobs`.
    async fn index_files(
        &self,
        source: &SourceRecord,
        retry_failed: bool,
        jobs: Vec<Job>,
        state: &mut RunState,
        progress: Arc<dyn Progress>,
        cancel: Arc<AtomicBool>,
    ) -> Result<(), SyncError> {
        let (job_tx, job_rx) = channel::unbounded::<(FileKey, Job)>();
        for job in jobs.into_iter().enumerate() {
            job_tx.send(job).expect("receiver is alive");
        }
        drop(job_tx);
        let (extracted_tx, extracted_rx) = channel::bounded::<Extraction>(CHUNK_QUEUE);
        let (ready_tx, mut ready_rx) = mpsc::channel::<Ready>(READY_QUEUE);

        let limits = Limits {
            max_bytes: self.config.ingest.max_file_mb * 1024 * 1024,
            timeout: Duration::from_secs(self.config.ingest.file_timeout_secs),
        };
        let mut workers = Vec::new();
        for n in 0..self.config.extract_threads() {
            let (jobs, out, chunker, cancel, root) =
                (job_rx.clone(), extracted_tx.clone(), self.chunker.clone(), cancel.clone(), source.root.clone());
            let worker = std::thread::Builder::new()
                .name(format!("lore-ingest-{n}"))
                .spawn(move || {
                    while let Ok((key, job)) = jobs.recv() {
                        if cancel.load(Ordering::Relaxed) {
                            break;
                        }
                        let file =
                            FileWork { key, root: &root, chunker: &chunker, limits, retry_failed, cancel: &cancel };
                        if file.run(job, &out).is_err() {
                            break;
                        }
                    }
                })
                .expect("spawning an ingest thread");
            workers.push(worker);
        }
        drop(extracted_tx);

        let embedder = self.embedder.clone();
        let embed_progress = progress.clone();
        let embed_thread = std::thread::Builder::new()
            .name("lore-embed".into())
            .spawn(move || EmbedStage::new(ready_tx, embedder.as_ref(), embed_progress.as_ref()).run(extracted_rx))
            .expect("spawning the embedding thread");

        let mut writer = Writer::new(self.stores.clone(), source, self.config.ingest.commit_every_chunks);
        let mut failure = None;
        while let Some(first) = ready_rx.recv().await {
            // Take whatever else is ready too, so that catalog transactions cover several documents.
            let mut batch = vec![first];
            while batch.len() < 64 {
                match ready_rx.try_recv() {
                    Ok(item) => batch.push(item),
                    Err(_) => break,
                }
            }
            if let Err(e) = writer.write(batch, state, progress.as_ref()).await {
                failure = Some(e);
                cancel.store(true, Ordering::Relaxed);
                break;
            }
        }
        // Unblock and join the stages before committing, so no thread outlives the run.
        drop(ready_rx);
        tokio::task::spawn_blocking(move || {
            for worker in workers {
                let _ = worker.join();
            }
            let _ = embed_thread.join();
        })
        .await
        .expect("joining the pipeline threads");
        if failure.is_none() {
            if let Err(e) = writer.commit(progress.as_ref()).await {
                failure = Some(e);
            }
        }
        state.interrupted = cancel.load(Ordering::Relaxed) && failure.is_none();
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[derive(Default)]
struct RunState {
    counts: RunCounts,
    pages: u64,
    failures: Vec<FileFailure>,
    relabeled: u64,
    interrupted: bool,
}

/// Whether a file the catalog knows may be left alone when its content is the same: not when a crashed
/// run left it half-written, nor when it failed last time and failed files are to be retried.
fn may_skip(known: &DocumentState, retry_failed: bool) -> bool {
    known.status != DocumentStatus::Pending && !(retry_failed && known.error.is_some())
}

/// Reads, hashes, extracts and chunks one file, sending its chunks on as they come. Runs on an ingest
/// thread.
struct FileWork<'a> {
    key: FileKey,
    /// The source's folder (canonical): nothing outside it is read.
    root: &'a Path,
    chunker: &'a Arc<Chunker>,
    limits: Limits,
    retry_failed: bool,
    cancel: &'a Arc<AtomicBool>,
}

/// The pipeline downstream is gone (the run stopped).
struct Disconnected;

impl FileWork<'_> {
    fn run(&self, job: Job, out: &channel::Sender<Extraction>) -> Result<(), Disconnected> {
        let send = |message: Extraction| out.send(message).map_err(|_| Disconnected);
        let Job { file, known, folder_acl: (inherited, acl_file) } = job;
        let key = self.key;
        let title = title_from_path(&file.absolute);
        let mut facts = FileFacts {
            path: file.relative.clone(),
            kind: file.kind,
            size_bytes: file.size,
            modified_ms: file.modified_ms,
            content_hash: String::new(),
            acl: DocumentAcl::resolve(&inherited, acl_file.clone(), None),
        };
        let failed = |facts: FileFacts, error: ExtractError| {
            let status =
                if error == ExtractError::NoTextLayer { DocumentStatus::NoText } else { DocumentStatus::Failed };
            let failed = FailedFile { facts, title: title.clone(), status, error: error.to_string() };
            Extraction::End(FileEnd::Failed { key, failed })
        };
        if let Err(e) = crate::extract::check_size(file.size, self.limits.max_bytes) {
            return send(failed(facts, e));
        }
        let bytes = match read_source_file(&file.absolute, self.root, self.limits.max_bytes) {
            Ok(bytes) => bytes,
            Err(e) => return send(failed(facts, e)),
        };
        facts.size_bytes = bytes.len() as u64;
        facts.content_hash = blake3::hash(&bytes).to_hex().to_string();
        if let Some(known) = &known {
            if known.content_hash == facts.content_hash && may_skip(known, self.retry_failed) {
                return send(Extraction::End(FileEnd::Unchanged {
                    id: known.id,
                    path: facts.path,
                    modified_ms: facts.modified_ms,
                    touched: known.modified_ms != facts.modified_ms || known.size_bytes != facts.size_bytes,
                }));
            }
        }

        // PDF pages are chunked and sent as they are extracted (on the extraction thread).
        let waited = WaitClock::default();
        let sink = {
            let (chunker, out, cancel, waited) =
                (self.chunker.clone(), out.clone(), self.cancel.clone(), waited.clone());
            let mut next_ordinal = 0u32;
            Box::new(move |page: PdfPage<'_>| {
                if cancel.load(Ordering::Relaxed) {
                    return false;
                }
                let drafts = chunker.chunk_page(page.text, page.number, page.char_start, &mut next_ordinal);
                if drafts.is_empty() {
                    return true;
                }
                let started = Instant::now();
                let sent = out.send(Extraction::Chunks { key, drafts }).is_ok();
                waited.add(started.elapsed());
                sent
            })
        };
        let extracted = match extract_with_limits(bytes, file.kind, self.limits, sink, waited) {
            Ok(extracted) => extracted,
            Err(ExtractError::Cancelled) => return send(Extraction::End(FileEnd::Abandoned { key })),
            Err(e) => return send(failed(facts, e)),
        };
        if extracted.page_starts.is_empty() {
            for drafts in self.chunker.chunk(&extracted).chunks(EMBED_GROUP) {
                send(Extraction::Chunks { key, drafts: drafts.to_vec() })?;
            }
        }
        let title = extracted.title.clone().filter(|t| !is_placeholder_title(t)).unwrap_or(title);
        facts.acl = DocumentAcl::resolve(&inherited, acl_file, extracted.page_acl.clone());
        send(Extraction::End(FileEnd::Finished(Box::new(Finished { key, facts, title, extracted }))))
    }
}

/// Embeds chunks in groups of about [`EMBED_GROUP`], across files; keeps every file's messages in
/// order. Runs on its own thread.
struct EmbedStage<'a> {
    output: mpsc::Sender<Ready>,
    embedder: &'a dyn Embedder,
    progress: &'a dyn Progress,
    pending: Vec<(FileKey, Vec<ChunkDraft>)>,
    pending_chunks: usize,
}

impl<'a> EmbedStage<'a> {
    fn new(output: mpsc::Sender<Ready>, embedder: &'a dyn Embedder, progress: &'a dyn Progress) -> Self {
        Self { output, embedder, progress, pending: Vec::new(), pending_chunks: 0 }
    }

    fn send(&self, ready: Ready) -> Result<(), Disconnected> {
        self.output.blocking_send(ready).map_err(|_| Disconnected)
    }

    fn run(mut self, input: channel::Receiver<Extraction>) {
        let _ = self.pump(input);
    }

    fn pump(&mut self, input: channel::Receiver<Extraction>) -> Result<(), Disconnected> {
        loop {
            // Block only when nothing waits to be embedded; otherwise embed what is there.
            let next = if self.pending.is_empty() { input.recv().ok() } else { input.try_recv().ok() };
            match next {
                Some(Extraction::Chunks { key, drafts }) => {
                    self.pending_chunks += drafts.len();
                    self.pending.push((key, drafts));
                    if self.pending_chunks >= EMBED_GROUP {
                        self.flush()?;
                    }
                }
                // An unchanged file has no chunks: its end may overtake pending chunks of other files.
                Some(Extraction::End(end @ FileEnd::Unchanged { .. })) => self.send(Ready::End(end))?,
                // Any other end must follow the file's chunks.
                Some(Extraction::End(end)) => {
                    self.flush()?;
                    self.send(Ready::End(end))?;
                }
                None if self.pending.is_empty() => return Ok(()),
                None => self.flush()?,
            }
        }
    }

    fn flush(&mut self) -> Result<(), Disconnected> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let texts: Vec<&str> = self.pending.iter().flat_map(|(_, d)| d.iter().map(|c| c.text.as_str())).collect();
        let mut vectors = match self.embedder.embed(&texts) {
            Ok(vectors) => vectors.into_iter(),
            Err(e) => {
                self.send(Ready::EmbedFailed(e))?;
                return Err(Disconnected);
            }
        };
        self.progress.event(ProgressEvent::Embedded { chunks: texts.len() as u64 });
        for (key, drafts) in std::mem::take(&mut self.pending) {
            let vectors: Vec<Vec<f32>> = vectors.by_ref().take(drafts.len()).collect();
            self.send(Ready::Embedded { key, drafts, vectors })?;
        }
        self.pending_chunks = 0;
        Ok(())
    }
}

/// Writes documents to the stores and commits them by the pending protocol. Runs on the async runtime;
/// index writes go to blocking threads.
struct Writer {
    stores: Stores,
    source_id: lore_core::catalog::SourceId,
    source_name: String,
    commit_every: usize,
    uncommitted: Vec<CompletedDocument>,
    uncommitted_chunks: usize,
    failures: Vec<FailedFile>,
    touched: Vec<(DocumentId, i64)>,
    /// Embedded chunks of files whose `Finished` has not come yet.
    parts: HashMap<FileKey, (Vec<ChunkDraft>, Vec<Vec<f32>>)>,
    /// Files that ended (failed, abandoned, written): late parts of theirs are dropped.
    closed: HashSet<FileKey>,
}

/// A file with all of its chunks embedded.
type CompleteFile = (Box<Finished>, Vec<ChunkDraft>, Vec<Vec<f32>>);

impl Writer {
    fn new(stores: Stores, source: &SourceRecord, commit_every: usize) -> Self {
        Self {
            stores,
            source_id: source.id,
            source_name: source.name.clone(),
            commit_every: commit_every.max(1),
            uncommitted: Vec::new(),
            uncommitted_chunks: 0,
            failures: Vec::new(),
            touched: Vec::new(),
            parts: HashMap::new(),
            closed: HashSet::new(),
        }
    }

    fn fail(&mut self, failed: FailedFile, state: &mut RunState, progress: &dyn Progress) {
        tracing::debug!(path = %failed.facts.path, error = %failed.error, "file not indexed");
        state.counts.failed += 1;
        state.failures.push(FileFailure { path: failed.facts.path.clone(), error: failed.error.clone() });
        progress.event(ProgressEvent::FileDone { path: &failed.facts.path, outcome: FileOutcome::Failed, chunks: 0 });
        self.failures.push(failed);
    }

    async fn write(
        &mut self,
        batch: Vec<Ready>,
        state: &mut RunState,
        progress: &dyn Progress,
    ) -> Result<(), SyncError> {
        let mut complete: Vec<CompleteFile> = Vec::new();
        for item in batch {
            match item {
                Ready::End(FileEnd::Unchanged { id, path, modified_ms, touched }) => {
                    state.counts.unchanged += 1;
                    if touched {
                        self.touched.push((id, modified_ms));
                    }
                    progress.event(ProgressEvent::FileDone { path: &path, outcome: FileOutcome::Unchanged, chunks: 0 });
                }
                Ready::Embedded { key, drafts, vectors } => {
                    if !self.closed.contains(&key) {
                        let (all_drafts, all_vectors) = self.parts.entry(key).or_default();
                        all_drafts.extend(drafts);
                        all_vectors.extend(vectors);
                    }
                }
                Ready::End(FileEnd::Finished(finished)) => {
                    self.closed.insert(finished.key);
                    let (drafts, vectors) = self.parts.remove(&finished.key).unwrap_or_default();
                    let unusable = if drafts.is_empty() {
                        Some(ExtractError::Empty.to_string())
                    } else if drafts.len() >= ChunkId::MAX_PER_DOCUMENT as usize {
                        Some(format!(
                            "{} chunks is over the limit of {} per document",
                            drafts.len(),
                            ChunkId::MAX_PER_DOCUMENT
                        ))
                    } else {
                        None
                    };
                    match unusable {
                        Some(error) => {
                            let Finished { facts, title, .. } = *finished;
                            let failed = FailedFile { facts, title, status: DocumentStatus::Failed, error };
                            self.fail(failed, state, progress);
                        }
                        None => complete.push((finished, drafts, vectors)),
                    }
                }
                Ready::End(FileEnd::Failed { key, failed }) => {
                    self.closed.insert(key);
                    self.parts.remove(&key);
                    self.fail(failed, state, progress);
                }
                Ready::End(FileEnd::Abandoned { key }) => {
                    self.closed.insert(key);
                    self.parts.remove(&key);
                }
                Ready::EmbedFailed(e) => return Err(e.into()),
            }
        }
        if !complete.is_empty() {
            self.index(complete, state, progress).await?;
        }
        if self.uncommitted_chunks >= self.commit_every {
            self.commit(progress).await?;
        }
        Ok(())
    }

    async fn index(
        &mut self,
        complete: Vec<CompleteFile>,
        state: &mut RunState,
        progress: &dyn Progress,
    ) -> Result<(), SyncError> {
        let facts: Vec<FileFacts> = complete.iter().map(|(f, ..)| f.facts.clone()).collect();
        // Step 1 of the protocol: the documents are pending before the indexes see them.
        let ids = self.stores.catalog.begin_documents(self.source_id, &facts).await?;
        let mut documents = Vec::with_capacity(complete.len());
        for ((finished, drafts, vectors), id) in complete.into_iter().zip(ids) {
            let meta = DocumentMeta {
                id,
                source: self.source_name.clone(),
                path: finished.facts.path.clone(),
                title: finished.title.clone(),
                kind: finished.facts.kind,
                modified_ms: finished.facts.modified_ms,
                acl: finished.facts.acl.principals.clone(),
            };
            let chunks: Vec<Chunk> = drafts
                .into_iter()
                .map(|d| d.into_chunk(id).expect("ordinals are checked against the per-document limit"))
                .collect();
            documents.push((meta, chunks, vectors, finished));
        }
        // Step 2: both indexes, old chunks out and new ones in (visible together at the next commit).
        let stores = self.stores.clone();
        let documents = tokio::task::spawn_blocking(move || -> Result<_, StoresError> {
            let ids: Vec<DocumentId> = documents.iter().map(|(meta, ..)| meta.id).collect();
            stores.delete_from_indexes(&ids)?;
            for (meta, chunks, vectors, _) in &documents {
                stores.text.add(meta, chunks)?;
                let points: Vec<_> = chunks
                    .iter()
                    .zip(vectors)
                    .map(|(chunk, vector)| lore_core::vectors::VectorPoint { document: meta, chunk, vector })
                    .collect();
                stores.vectors.upsert(&points)?;
            }
            Ok(documents)
        })
        .await
        .expect("index writes do not panic")?;
        for (meta, chunks, _, finished) in documents {
            let Finished { extracted, .. } = *finished;
            state.counts.indexed += 1;
            state.counts.chunks += chunks.len() as u64;
            state.pages += u64::from(extracted.page_count().unwrap_or(0));
            progress.event(ProgressEvent::FileDone {
                path: &meta.path,
                outcome: FileOutcome::Indexed,
                chunks: chunks.len() as u64,
            });
            self.uncommitted_chunks += chunks.len();
            let page_starts = char_offsets(&extracted.text, &extracted.page_starts);
            self.uncommitted.push(CompletedDocument {
                id: meta.id,
                title: meta.title,
                pages: extracted.page_count(),
                text: extracted.text,
                page_starts,
                chunks,
            });
        }
        Ok(())
    }

    /// Step 3 of the protocol: indexes durable first, then the catalog says `indexed`.
    async fn commit(&mut self, progress: &dyn Progress) -> Result<(), SyncError> {
        if !self.uncommitted.is_empty() {
            let stores = self.stores.clone();
            tokio::task::spawn_blocking(move || stores.persist_indexes()).await.expect("commits do not panic")?;
            self.stores.catalog.complete_documents(&self.uncommitted).await?;
            progress.event(ProgressEvent::Committed {
                documents: self.uncommitted.len() as u64,
                chunks: self.uncommitted_chunks as u64,
            });
            self.uncommitted.clear();
            self.uncommitted_chunks = 0;
        }
        if !self.failures.is_empty() {
            self.stores.catalog.record_failures(self.source_id, &self.failures).await?;
            self.failures.clear();
        }
        if !self.touched.is_empty() {
            self.stores.catalog.touch_documents(&self.touched).await?;
            self.touched.clear();
        }
        Ok(())
    }
}

/// An ACL as stored: principals trimmed, blanks and repeats dropped, sorted (so that equal sets compare
/// equal).
pub fn normalize_acl(acl: &[String]) -> Vec<String> {
    let mut principals = lore_core::acl::normalize(acl);
    if principals.is_empty() {
        principals.push(EVERYONE.to_string());
    }
    principals
}

/// Converts sorted byte offsets into character offsets.
fn char_offsets(text: &str, byte_offsets: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(byte_offsets.len());
    let (mut chars, mut last) = (0usize, 0usize);
    for &b in byte_offsets {
        chars += text[last..b].chars().count();
        last = b;
        out.push(chars);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_offsets_become_char_offsets() {
        let text = "héllo wörld";
        assert_eq!(char_offsets(text, &[0, 7, text.len()]), vec![0, 6, 11]);
    }
}
