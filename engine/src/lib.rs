//! Wiring: give it a configuration, get opened stores (embedded or shared, by `catalog.url` and
//! `vectors.url`), loaded models (embedders, chunker, the language model local or remote), a ready
//! syncer and an answerer. Both the CLI (`lore`) and the web service (`lore-web`) start from here, so a
//! setting means the same in every command.

use std::sync::Arc;

use anyhow::Context;
use lore_answer::Answerer;
use lore_core::accounts::AccountStore;
use lore_core::audit::AuditLog;
use lore_core::catalog::{PostgresCatalog, SqliteCatalog};
use lore_core::config::Config;
use lore_core::datadir::{DataDir, DataDirError, WriterLock, SERVER_HOLDER};
use lore_core::embed::{BatchingEmbedder, Embedder, OnnxEmbedder, TokenCounter};
use lore_core::qdrant_server::{QdrantServerIndex, ServerSettings};
use lore_ingest::chunk::Chunker;
use lore_ingest::sync::RecoveryScope;
use lore_ingest::{Stores, Syncer};
use lore_llm::mistral::LoadOptions;
use lore_llm::{ChatModel, MistralModel, RemoteModel, RemoteOptions, Sampling};
use lore_retrieve::Retriever;

/// How long a reader waits for another short-lived command (a search) to release the data directory.
const READER_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens the stores the configuration names, for writing: the data directory's (embedded), or a
/// shared catalog (`catalog.url`) and/or a shared Qdrant server (`vectors.url`). What lives in the data
/// directory is locked before anything loads, so a second writer hears so at once.
pub async fn open_stores(config: &Config, holder: &str) -> anyhow::Result<Stores> {
    open_configured(config, holder, Patience::None).await
}

/// How long to wait for another process's lock on the data directory.
#[derive(Clone, Copy)]
enum Patience {
    None,
    /// A short command (a search) waits for another short one.
    Brief,
}

async fn lock_data_dir(config: &Config, holder: &str, patience: Patience) -> anyhow::Result<(DataDir, WriterLock)> {
    let data_dir = DataDir::create(&config.data_dir)?;
    let lock = match patience {
        Patience::None => data_dir.lock_for_writing(holder),
        Patience::Brief => {
            let (lock_dir, holder) = (data_dir.clone(), holder.to_string());
            tokio::task::spawn_blocking(move || lock_dir.lock_waiting(&holder, READER_PATIENCE))
                .await
                .context("the lock waiter crashed")?
        }
    };
    Ok((data_dir, lock.map_err(|e| explain_busy(config, e))?))
}

async fn open_configured(config: &Config, holder: &str, patience: Patience) -> anyhow::Result<Stores> {
    let dimensions = config.embedding.dimensions;
    let cannot_open = || format!("cannot open the data directory {}", config.data_dir.display());
    let server = ServerSettings::from_config(&config.vectors, dimensions);
    match (&config.catalog.url, server) {
        (Some(url), Some(server)) => {
            let catalog = open_shared_catalog(config, url).await?;
            Ok(Stores::open_shared(catalog, connect_vector_server(server).await?))
        }
        (Some(url), None) => {
            let (data_dir, lock) = lock_data_dir(config, holder, patience).await?;
            let catalog = open_shared_catalog(config, url).await?;
            Stores::open_with_catalog(&data_dir, dimensions, lock, catalog)
                .await
                .with_context(|| format!("cannot open the indexes in {}", config.data_dir.display()))
        }
        (None, Some(server)) => {
            let (data_dir, lock) = lock_data_dir(config, holder, patience).await?;
            let index = connect_vector_server(server).await?;
            Stores::open_sqlite_with_server(&data_dir, lock, index).await.with_context(cannot_open)
        }
        (None, None) => {
            let (data_dir, lock) = lock_data_dir(config, holder, patience).await?;
            Stores::open_locked(&data_dir, dimensions, lock).await.with_context(cannot_open)
        }
    }
}

async fn open_shared_catalog(config: &Config, url: &str) -> anyhow::Result<Arc<PostgresCatalog>> {
    Ok(Arc::new(PostgresCatalog::open(url, config.catalog.max_connections).await?))
}

/// Connects to the Qdrant server of `vectors.url` (creating Lore's collection there if needed).
async fn connect_vector_server(settings: ServerSettings) -> anyhow::Result<Arc<QdrantServerIndex>> {
    let index = tokio::task::spawn_blocking(move || QdrantServerIndex::connect(settings))
        .await
        .context("the Qdrant client crashed while connecting")??;
    Ok(Arc::new(index))
}

/// A data directory held by another process, explained; when that is `lore serve`, where it serves and
/// how to do the same through it.
fn explain_busy(config: &Config, error: DataDirError) -> anyhow::Error {
    let DataDirError::Busy { holder, .. } = &error else { return error.into() };
    if !holder.starts_with(SERVER_HOLDER) {
        return error.into();
    }
    let note = std::fs::read_to_string(DataDir::new(&config.data_dir).server_note_path());
    let url = note
        .ok()
        .and_then(|note| serde_json::from_str::<serde_json::Value>(&note).ok())
        .and_then(|note| note["url"].as_str().map(String::from))
        .unwrap_or_else(|| "its address".into());
    anyhow::anyhow!(
        "{holder}, is serving the data directory {} at {url}: search and ask there (the web \
         page, or GET {url}/api/search?q=...), add or re-sync folders on {url}/admin (or POST {url}/api/sources), \
         or stop the server first",
        config.data_dir.display()
    )
}

/// Loads the embedding model (ONNX Runtime included) on a blocking thread.
pub async fn load_embedder(config: &Config) -> anyhow::Result<Arc<OnnxEmbedder>> {
    let config = config.clone();
    let embedder = tokio::task::spawn_blocking(move || OnnxEmbedder::from_config(&config))
        .await
        .context("the embedding model loader crashed")??;
    Ok(Arc::new(embedder))
}

pub fn load_chunker(config: &Config) -> anyhow::Result<Chunker> {
    let counter = TokenCounter::from_dir(&config.tokenizer_dir())?;
    Ok(Chunker::new(counter, &config.chunking)?)
}

/// Everything `lore ingest` needs: stores locked for writing, embedder and chunker loaded.
pub async fn syncer(config: &Config, holder: &str) -> anyhow::Result<Syncer> {
    // The lock first: a second writer should hear so at once, not after loading a model.
    let stores = open_stores(config, holder).await?;
    let chunker = load_chunker(config)?;
    let embedder: Arc<dyn Embedder> = load_embedder(config).await?;
    let syncer = Syncer::new(Arc::new(config.clone()), stores, embedder, Arc::new(chunker));
    // Other processes share the catalog: a sync cleans up only after its own source.
    Ok(if config.catalog.url.is_some() { syncer.with_recovery(RecoveryScope::Source) } else { syncer })
}

/// The parts of the catalog's database that the account and audit commands use.
pub struct AccountsDb {
    pub accounts: Arc<dyn AccountStore>,
    pub audit: Arc<dyn AuditLog>,
}

/// Opens the accounts store and the audit log alone (no indexes, no lock) for the commands that manage
/// accounts and read the log: beside a running server too (SQLite lets the two write in turn).
pub async fn open_accounts_db(config: &Config) -> anyhow::Result<AccountsDb> {
    Ok(match &config.catalog.url {
        Some(url) => {
            let catalog = open_shared_catalog(config, url).await?;
            AccountsDb { accounts: catalog.clone(), audit: catalog }
        }
        None => {
            let data_dir = DataDir::create(&config.data_dir)?;
            let catalog = Arc::new(SqliteCatalog::open(&data_dir.catalog_path()).await?);
            AccountsDb { accounts: catalog.clone(), audit: catalog }
        }
    })
}

/// Opens an existing index's stores for a short command (a search): waits briefly if another short
/// command holds the data directory, fails with the holder's name if an ingest does.
pub async fn open_existing_stores(config: &Config, holder: &str) -> anyhow::Result<Stores> {
    if config.catalog.url.is_none() && !DataDir::new(&config.data_dir).catalog_path().exists() {
        anyhow::bail!(
            "nothing is indexed in {} yet: run `lore ingest <folder>` first (or pass --data-dir)",
            config.data_dir.display()
        );
    }
    open_configured(config, holder, Patience::Brief).await
}

/// Texts one merged query-embedding call may carry: the queries of 50 concurrent searches fit in two.
const QUERY_BATCH_TEXTS: usize = 32;

/// Loads the embedding model for search queries (see [`OnnxEmbedder::for_queries`]); queries that
/// arrive while it is busy are embedded together in one call ([`BatchingEmbedder`]).
pub async fn load_query_embedder(config: &Config) -> anyhow::Result<Arc<dyn Embedder>> {
    let config = config.clone();
    let embedder = tokio::task::spawn_blocking(move || OnnxEmbedder::for_queries(&config))
        .await
        .context("the embedding model loader crashed")??;
    Ok(Arc::new(BatchingEmbedder::new(Arc::new(embedder), QUERY_BATCH_TEXTS)))
}

/// A hybrid retriever over `stores`, with the query embedding model loaded.
pub async fn retriever(config: &Config, stores: &Stores) -> anyhow::Result<Retriever> {
    let embedder = load_query_embedder(config).await?;
    Ok(Retriever::new(stores.text.clone(), stores.vectors.clone(), embedder, config.retrieval.clone()))
}

/// Loads the language model (seconds; the GGUF file is read once and shared), or connects to the one
/// `generation.url` serves (checking that it answers).
pub async fn load_language_model(config: &Config) -> anyhow::Result<Arc<dyn ChatModel>> {
    let g = &config.generation;
    if let Some(url) = &g.url {
        let model = RemoteModel::new(RemoteOptions {
            url: url.clone(),
            api_key: g.api_key.clone(),
            model: g.remote_model.clone(),
            context_tokens: g.context_tokens,
            queue: g.queue,
            timeout: std::time::Duration::from_secs(g.timeout_secs.max(1)),
        })?;
        model.check().await?;
        return Ok(Arc::new(model));
    }
    let model = MistralModel::load(LoadOptions::from_config(config)).await?;
    Ok(Arc::new(model))
}

/// Alternatives reported with each answer token: enough to see the weight the model put on starting
/// to decline when it wrote something else (`lore_answer::confidence`). Each token then costs a softmax
/// over the vocabulary and ten token decodes besides its own.
const ANSWER_ALTERNATIVES: usize = 10;

/// How answers sample, from the configuration.
pub fn sampling(config: &Config) -> Sampling {
    let g = &config.generation;
    Sampling {
        max_tokens: g.max_answer_tokens,
        temperature: g.temperature,
        top_p: g.top_p,
        stop: Vec::new(),
        alternatives: ANSWER_ALTERNATIVES,
    }
}

/// The question-answering pipeline over `stores`: retriever, query embedder and language model loaded.
pub async fn answerer(config: &Config, stores: &Stores) -> anyhow::Result<Answerer> {
    let embedder = load_query_embedder(config).await?;
    let retriever =
        Retriever::new(stores.text.clone(), stores.vectors.clone(), embedder.clone(), config.retrieval.clone());
    let model = load_language_model(config).await?;
    Ok(answerer_with(config, retriever, embedder, model))
}

/// The question-answering pipeline from components already loaded (the server shares its retriever's).
pub fn answerer_with(
    config: &Config,
    retriever: Retriever,
    query_embedder: Arc<dyn Embedder>,
    model: Arc<dyn ChatModel>,
) -> Answerer {
    Answerer::new(retriever, model, query_embedder, config.answer.clone(), sampling(config))
}
