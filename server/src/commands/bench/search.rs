//! `lore bench search --text DIR --chunks N`: search latency over a corpus of N chunks made of real
//! sentences. With real embeddings the corpus is ingested by the normal pipeline (resumable: an
//! interrupted build continues where it stopped); with `--synthetic-vectors` each vector is derived
//! from a sample of real embeddings, so a million-chunk corpus builds in minutes instead of a day.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use lore_core::config::Config;
use lore_core::datadir::{DataDir, WriterLock};
use lore_core::embed::{Embedder, TokenCounter};
use lore_core::qdrant_server::{QdrantServerIndex, ServerSettings};
use lore_core::text::{OpenMode, TantivyTextIndex, TextIndex};
use lore_core::vectors::{EdgeVectorIndex, VectorIndex, VectorPoint};
use lore_core::{Chunk, ChunkId, DocumentId, DocumentKind, DocumentMeta, EVERYONE};
use lore_ingest::SyncOptions;
use lore_retrieve::{Access, Mode, Retriever, SearchRequest, Timings};
use serde::Serialize;

use super::synthetic::{is_public, Rng, Sentences};
use super::{peak_rss_mib, process_rss_mib, rss_mib, Latency};
use crate::commands::progress::BarProgress;
use crate::commands::search::ModeArg;
use crate::terminal::thousands;
use lore_engine as engine;

#[derive(Args)]
pub struct SearchBenchArgs {
    /// Folder of documents whose sentences, recombined, make the corpus (e.g. the R manuals).
    #[arg(long, value_name = "DIR")]
    pub text: PathBuf,
    /// Chunks in the corpus.
    #[arg(long, default_value_t = 100_000)]
    pub chunks: u64,
    /// Derive vectors from 2,048 real embeddings plus noise instead of embedding every chunk.
    #[arg(long)]
    pub synthetic_vectors: bool,
    /// Queries per measurement.
    #[arg(long, default_value_t = 500)]
    pub queries: u64,
    /// Queries in flight at once in the load measurement.
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
    /// Where corpora are kept between runs; default ~/.cache/lore/bench-search.
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Ranking to measure; default: the configured hybrid fusion.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Also write the queries of the load measurement to FILE, one per line (for an HTTP load test of
    /// `lore serve` over the same corpus with scripts/bench-http.sh).
    #[arg(long, value_name = "FILE")]
    pub export_queries: Option<PathBuf>,
    /// With vectors.url (a Qdrant server, synthetic vectors only): the server's process id, to report
    /// its memory (it must run on this machine).
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// With vectors.url: the server's storage folder, to report its disk use.
    #[arg(long, value_name = "DIR")]
    pub server_storage: Option<PathBuf>,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct SearchBench {
    chunks: u64,
    vectors: &'static str,
    mode: &'static str,
    queries: u64,
    /// One query at a time (in hybrid mode BM25 and vectors still run side by side).
    single: Latency,
    single_bm25: Latency,
    single_embed: Latency,
    single_vectors: Latency,
    single_present: Latency,
    concurrency: usize,
    concurrent: Latency,
    concurrent_qps: f64,
    /// Local indexes (null on a Qdrant server: see `server_disk_mib`).
    text_index_mib: Option<f64>,
    vector_index_mib: Option<f64>,
    rss_mib: f64,
    peak_rss_mib: f64,
    build_s: f64,
    cores: usize,
    /// `qdrant-server` (both indexes there) or `tantivy+qdrant-edge`.
    engines: &'static str,
    /// The server's memory and disk, when asked for (`--server-pid`, `--server-storage`).
    server_rss_mib: Option<f64>,
    server_disk_mib: Option<f64>,
}

pub async fn run(mut config: Config, args: SearchBenchArgs) -> anyhow::Result<ExitCode> {
    // Each measured query pays for its embedding: distinct queries, and no cache of recent ones.
    config.retrieval.query_cache = 0;
    anyhow::ensure!(args.chunks >= 1000, "--chunks must be at least 1000");
    anyhow::ensure!(args.queries > 0 && args.concurrency > 0, "--queries and --concurrency must be positive");
    let work = match &args.work_dir {
        Some(dir) => dir.clone(),
        None => std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join(".cache/lore/bench-search"),
    };
    let kind = if args.synthetic_vectors { "synthetic" } else { "real" };
    let dir = work.join(format!("{kind}-{}", args.chunks));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;

    eprintln!("Reading sentences from {}", args.text.display());
    let (text_dir, counter) = (args.text.clone(), TokenCounter::from_dir(&config.tokenizer_dir())?);
    let sentences = Arc::new(tokio::task::spawn_blocking(move || Sentences::read(&text_dir, &counter)).await??);
    let embedder: Arc<dyn Embedder> = engine::load_embedder(&config).await?;

    let build_started = Instant::now();
    let server = ServerSettings::from_config(&config.vectors, config.embedding.dimensions).map(|mut settings| {
        settings.collection = format!("lore_bench_{kind}_{}", args.chunks);
        settings
    });
    anyhow::ensure!(
        server.is_none() || args.synthetic_vectors,
        "with vectors.url, measure a corpus of --synthetic-vectors (the real-embedding corpus is built by `lore ingest`)"
    );
    let on_server = server.is_some();
    let engines = if on_server { "qdrant-server" } else { "tantivy+qdrant-edge" };
    let (text, vectors) = if args.synthetic_vectors {
        let (sentences, embedder, dir, chunks) = (sentences.clone(), embedder.clone(), dir.clone(), args.chunks);
        tokio::task::spawn_blocking(move || build_synthetic(&dir, &sentences, chunks, embedder.as_ref(), server))
            .await??
    } else {
        build_real(&config, &dir, &sentences, args.chunks).await?
    };
    let build_s = build_started.elapsed().as_secs_f64();
    let indexed_chunks = text.len()?;

    let retriever =
        Retriever::new(text, vectors, engine::load_query_embedder(&config).await?, config.retrieval.clone());
    let mode = args.mode.map_or(retriever.default_mode(), Mode::from);
    let request = |query: &str| SearchRequest { mode: Some(mode), ..SearchRequest::new(query, Access::everyone()) };
    let queries_from = |first: u64| -> Vec<String> {
        (first..first + args.queries).map(|q| sentences.query_text(args.chunks, q)).collect()
    };
    let (queries, load_queries) = (queries_from(0), queries_from(args.queries));
    if let Some(file) = &args.export_queries {
        let lines: Vec<String> =
            load_queries.iter().map(|q| q.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
        std::fs::write(file, lines.join("\n") + "\n")
            .with_context(|| format!("cannot write the queries to {}", file.display()))?;
    }
    eprintln!(
        "Searching: {} queries one at a time, then {} others {} at a time",
        queries.len(),
        load_queries.len(),
        args.concurrency
    );
    for q in 0..20 {
        retriever.search(&request(&sentences.query_text(args.chunks, u64::MAX - q))).await?;
    }
    let mut single = Vec::with_capacity(queries.len());
    for query in &queries {
        single.push(retriever.search(&request(query)).await?.timings);
    }
    let (concurrent, wall_s) = under_load(&retriever, &load_queries, args.concurrency, mode).await?;

    let stage = |f: fn(&Timings) -> f64| Latency::of(&single.iter().map(f).collect::<Vec<_>>());
    let result = SearchBench {
        chunks: indexed_chunks,
        vectors: kind,
        mode: mode.name(),
        queries: args.queries,
        single: stage(|t| t.total_ms),
        single_bm25: stage(|t| t.bm25_ms),
        single_embed: stage(|t| t.embed_ms),
        single_vectors: stage(|t| t.vector_ms),
        single_present: stage(|t| t.present_ms),
        concurrency: args.concurrency,
        concurrent: Latency::of(&concurrent),
        concurrent_qps: concurrent.len() as f64 / wall_s,
        // On a server nothing is local: the folders there belong to an earlier embedded run.
        text_index_mib: (!on_server).then(|| dir_mib(&dir.join("data").join("text"))),
        vector_index_mib: (!on_server).then(|| dir_mib(&dir.join("data").join("vectors"))),
        rss_mib: rss_mib(),
        peak_rss_mib: peak_rss_mib(),
        build_s,
        cores: Config::cores(),
        engines,
        server_rss_mib: args.server_pid.and_then(process_rss_mib),
        server_disk_mib: args.server_storage.as_deref().map(dir_mib),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print(&result);
    }
    Ok(ExitCode::SUCCESS)
}

/// Every query once, `concurrency` in flight at a time, each as an employee without special
/// permissions (the ACL filter is always on); returns each latency and the wall time.
async fn under_load(
    retriever: &Retriever,
    queries: &[String],
    concurrency: usize,
    mode: Mode,
) -> anyhow::Result<(Vec<f64>, f64)> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let queries = Arc::new(queries.to_vec());
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (retriever, queries, next) = (retriever.clone(), queries.clone(), next.clone());
        workers.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(query) = queries.get(i) else { return Ok::<_, anyhow::Error>(latencies) };
                let sent = Instant::now();
                retriever
                    .search(&SearchRequest { mode: Some(mode), ..SearchRequest::new(query, Access::everyone()) })
                    .await?;
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
        });
    }
    let mut all = Vec::with_capacity(queries.len());
    while let Some(done) = workers.join_next().await {
        all.extend(done.context("a load worker crashed")??);
    }
    Ok((all, started.elapsed().as_secs_f64()))
}

/// The real-embedding corpus: one text file per chunk in two sources (public, and `eng` only),
/// ingested by the normal pipeline into `dir/data`. Re-running skips what is already indexed.
async fn build_real(
    config: &Config,
    dir: &Path,
    sentences: &Sentences,
    chunks: u64,
) -> anyhow::Result<(Arc<dyn TextIndex>, Arc<dyn VectorIndex>)> {
    let files = dir.join("files");
    let written = dir.join("files.done");
    if !written.exists() {
        eprintln!("Writing {} chunk files", thousands(chunks));
        for n in 0..chunks {
            let source = if is_public(n) { "public" } else { "eng" };
            let path = files.join(source).join(format!("{:04}/{n:07}.txt", n / 1000));
            std::fs::create_dir_all(path.parent().expect("chunk files sit in a folder"))?;
            std::fs::write(&path, sentences.chunk_text(n))?;
        }
        std::fs::write(&written, b"")?;
    }
    let config = Config { data_dir: dir.join("data"), ..config.clone() };
    let syncer = engine::syncer(&config, "lore bench search").await?;
    for (source, acl) in [("public", EVERYONE), ("eng", "eng")] {
        eprintln!("Ingesting source '{source}' (resumes where a previous run stopped)");
        let options = SyncOptions {
            source: source.into(),
            root: files.join(source),
            acl: Some(vec![acl.into()]),
            retry_failed: false,
        };
        let progress = Arc::new(BarProgress::new(false));
        syncer.sync(&options, progress.clone(), Arc::new(AtomicBool::new(false))).await?;
        progress.finish();
    }
    // Each sync ends by building the vector search graph over what it added.
    let stores = syncer.stores();
    Ok((stores.text.clone(), stores.vectors.clone()))
}

/// Real embeddings the synthetic vectors are derived from.
const BASE_VECTORS: u64 = 2048;
/// Chunks written between two commits of the synthetic corpus.
const SYNTHETIC_BATCH: u64 = 2000;

/// Where the synthetic corpus is written: the data directory's tantivy and Qdrant Edge (under its
/// writer lock), or one collection on a Qdrant server, with the marker saying it is complete.
struct BenchIndexes {
    text: Arc<dyn TextIndex>,
    vectors: Arc<dyn VectorIndex>,
    server: Option<Arc<QdrantServerIndex>>,
    built: PathBuf,
    _lock: Option<WriterLock>,
}

impl BenchIndexes {
    /// Opens them; a corpus whose build did not finish is started again from nothing.
    fn open(dir: &Path, dimensions: usize, server: Option<ServerSettings>) -> anyhow::Result<Self> {
        if let Some(settings) = server {
            let built = dir.join(format!("built-on-server-{}", settings.collection));
            let mut index = QdrantServerIndex::connect(settings.clone())?;
            if !built.exists() {
                index.delete_collection()?;
                index = QdrantServerIndex::connect(settings)?;
            }
            let index = Arc::new(index);
            return Ok(Self { text: index.clone(), vectors: index.clone(), server: Some(index), built, _lock: None });
        }
        let data = DataDir::create(dir.join("data"))?;
        let lock = data.lock_for_writing("lore bench search")?;
        let built = dir.join("built");
        if !built.exists() {
            for stale in [data.text_dir(), data.vectors_dir()] {
                if stale.exists() {
                    std::fs::remove_dir_all(&stale)?;
                }
            }
        }
        let text = TantivyTextIndex::open(&data.text_dir(), OpenMode::Write)?;
        if built.exists() && text.optimize()? {
            eprintln!("Merged the full-text segments of a corpus built by an older lore");
        }
        let vectors = EdgeVectorIndex::open(&data.vectors_dir(), dimensions)?;
        Ok(Self { text: Arc::new(text), vectors: Arc::new(vectors), server: None, built, _lock: Some(lock) })
    }

    /// Makes the searches of what was written fast: the HNSW graph and merged segments locally, the
    /// server's own background indexing waited for.
    fn finish(&self) -> anyhow::Result<()> {
        let started = Instant::now();
        match &self.server {
            Some(server) => {
                eprintln!("Waiting for the Qdrant server to index the collection");
                server.wait_until_optimized(std::time::Duration::from_secs(4 * 3600))?;
                eprintln!("The server indexed the collection in {:.0} s", started.elapsed().as_secs_f64());
            }
            None => {
                self.vectors.optimize()?;
                self.vectors.flush()?;
                eprintln!("Built the vector search graph in {:.0} s", started.elapsed().as_secs_f64());
                let merge_started = Instant::now();
                self.text.optimize()?;
                eprintln!("Merged the full-text segments in {:.0} s", merge_started.elapsed().as_secs_f64());
            }
        }
        Ok(())
    }
}

/// The synthetic-vector corpus, written straight into the indexes (no catalog: search does not read
/// it). Vector `n` is `0.8 a + 0.2 b + noise` for two real embeddings `a`, `b`, normalised: clustered
/// like real data, unlike uniform random vectors. Blocking.
fn build_synthetic(
    dir: &Path,
    sentences: &Sentences,
    chunks: u64,
    embedder: &dyn Embedder,
    server: Option<ServerSettings>,
) -> anyhow::Result<(Arc<dyn TextIndex>, Arc<dyn VectorIndex>)> {
    let indexes = BenchIndexes::open(dir, embedder.dimensions(), server)?;
    let (text, vectors) = (&indexes.text, &indexes.vectors);
    if !indexes.built.exists() {
        eprintln!("Embedding {BASE_VECTORS} real chunks for the synthetic vectors to derive from");
        let started = Instant::now();
        let texts: Vec<String> = (0..BASE_VECTORS).map(|n| sentences.chunk_text(n)).collect();
        let base = embedder.embed(&texts.iter().map(String::as_str).collect::<Vec<_>>())?;
        let bar = ProgressBar::new(chunks);
        bar.set_style(
            ProgressStyle::with_template("{spinner} writing [{bar:30}] {pos}/{len} chunks · {per_sec} · eta {eta}")
                .expect("static template")
                .progress_chars("=> "),
        );
        for first in (0..chunks).step_by(SYNTHETIC_BATCH as usize) {
            let batch: Vec<(DocumentMeta, Chunk, Vec<f32>)> =
                (first..(first + SYNTHETIC_BATCH).min(chunks)).map(|n| synthetic_chunk(sentences, &base, n)).collect();
            let points: Vec<VectorPoint<'_>> =
                batch.iter().map(|(document, chunk, vector)| VectorPoint { document, chunk, vector }).collect();
            match &indexes.server {
                // Every chunk is its own document: one request per batch, not two per chunk.
                Some(server) => server.add_points(&points)?,
                None => {
                    for (meta, chunk, _) in &batch {
                        text.add(meta, std::slice::from_ref(chunk))?;
                    }
                    vectors.upsert(&points)?;
                }
            }
            bar.inc(batch.len() as u64);
        }
        bar.finish_and_clear();
        text.commit()?;
        vectors.flush()?;
        eprintln!("Wrote {} chunks in {:.0} s", thousands(chunks), started.elapsed().as_secs_f64());
        indexes.finish()?;
        std::fs::write(&indexes.built, b"")?;
    }
    Ok((indexes.text.clone(), indexes.vectors.clone()))
}

fn synthetic_chunk(sentences: &Sentences, base: &[Vec<f32>], n: u64) -> (DocumentMeta, Chunk, Vec<f32>) {
    let text = sentences.chunk_text(n);
    let public = is_public(n);
    let document = DocumentMeta {
        id: DocumentId(n as i64 + 1),
        source: if public { "public" } else { "eng" }.into(),
        path: format!("{:04}/{n:07}.txt", n / 1000),
        title: String::new(),
        kind: DocumentKind::Text,
        modified_ms: 0,
        acl: vec![if public { EVERYONE } else { "eng" }.into()],
    };
    let id = ChunkId::new(document.id, 0).expect("ordinal 0 fits");
    let chars = text.chars().count();
    let chunk = Chunk { id, ordinal: 0, text, page: None, heading: None, start: 0, end: chars, tokens: 0 };
    let mut rng = Rng::new(n ^ 0x7ec7_0a5e);
    let (a, b) = (&base[rng.below(base.len())], &base[rng.below(base.len())]);
    let noise = 0.25 / (a.len() as f64).sqrt();
    let mut vector: Vec<f32> = a
        .iter()
        .zip(b)
        .map(|(x, y)| (0.8 * f64::from(*x) + 0.2 * f64::from(*y) + noise * rng.normal()) as f32)
        .collect();
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::EPSILON);
    vector.iter_mut().for_each(|x| *x /= norm);
    (document, chunk, vector)
}

/// Size of a folder's files, in MiB.
fn dir_mib(dir: &Path) -> f64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum::<u64>() as f64
        / (1024.0 * 1024.0)
}

fn print(r: &SearchBench) {
    println!(
        "lore bench search: {} chunks ({} vectors), {} queries, mode {}, {} cores",
        thousands(r.chunks),
        r.vectors,
        r.queries,
        r.mode,
        r.cores
    );
    let row = |name: &str, l: &Latency| l.print_row(name, 26, 1);
    row("one at a time", &r.single);
    row("  of which BM25", &r.single_bm25);
    row("  of which query embedding", &r.single_embed);
    row("  of which vector search", &r.single_vectors);
    row("  then passages, snippets", &r.single_present);
    row(&format!("{} concurrent", r.concurrency), &r.concurrent);
    println!("  throughput under load      {:>7.1} queries/s", r.concurrent_qps);
    if let (Some(text), Some(vectors)) = (r.text_index_mib, r.vector_index_mib) {
        println!("  index size                 text {text:.0} MiB, vectors {vectors:.0} MiB");
    }
    println!("  memory                     RSS {:.0} MiB, peak {:.0} MiB (build included)", r.rss_mib, r.peak_rss_mib);
    println!("  corpus build (this run)    {:.1} s", r.build_s);
    println!("  engines                    {}", r.engines);
    if let Some(rss) = r.server_rss_mib {
        println!("  Qdrant server memory       RSS {rss:.0} MiB");
    }
    if let Some(disk) = r.server_disk_mib {
        println!("  Qdrant server disk         {disk:.0} MiB");
    }
}
