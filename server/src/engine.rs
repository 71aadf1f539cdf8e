//! Wiring: from a configuration to opened stores, a loaded embedder and a ready syncer.

use std::sync::Arc;

use anyhow::Context;
use lore_answer::Answerer;
use lore_core::config::Config;
use lore_core::datadir::{DataDir, DataDirError, SERVER_HOLDER};
use lore_core::embed::{Embedder, OnnxEmbedder, TokenCounter};
use lore_ingest::chunk::Chunker;
use lore_ingest::stores::StoresError;
use lore_ingest::{Stores, Syncer};
use lore_llm::mistral::LoadOptions;
use lore_llm::{ChatModel, MistralModel, Sampling};
use lore_retrieve::Retriever;

/// How long a reader waits for another short-lived command (a search) to release the data directory.
const READER_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens the data directory's stores for writing (creating the directory if needed).
pub async fn open_stores(config: &Config, holder: &str) -> anyhow::Result<Stores> {
    let data_dir = DataDir::create(&config.data_dir)?;
    match Stores::open_embedded(&data_dir, config.embedding.dimensions, holder).await {
        Ok(stores) => Ok(stores),
        Err(StoresError::DataDir(busy @ DataDirError::Busy { .. })) => Err(explain_busy(config, busy)),
        Err(e) => {
            Err(anyhow::Error::new(e).context(format!("cannot open the data directory {}", config.data_dir.display())))
        }
    }
}

/// A data directory held by another process, explained; when that is `lore serve`, where it serves and
/// how to do the same through it.
fn explain_busy(config: &Config, error: DataDirError) -> anyhow::Error {
    let DataDirError::Busy { holder, .. } = &error else { return error.into() };
    if !holder.starts_with(SERVER_HOLDER) {
        return error.into();
    }
    let note = std::fs::read_to_string(DataDir::new(&config.data_dir).root().join(crate::web::SERVER_FILE));
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
    Ok(Syncer::new(Arc::new(config.clone()), stores, embedder, Arc::new(chunker)))
}

/// Opens an existing data directory's stores for a short command (a search): waits briefly if another
/// short command holds them, fails with the holder's name if an ingest does.
pub async fn open_existing_stores(config: &Config, holder: &str) -> anyhow::Result<Stores> {
    let data_dir = DataDir::new(&config.data_dir);
    if !data_dir.catalog_path().exists() {
        anyhow::bail!(
            "nothing is indexed in {} yet: run `lore ingest <folder>` first (or pass --data-dir)",
            config.data_dir.display()
        );
    }
    let (patience, holder_name) = (READER_PATIENCE, holder.to_string());
    let lock_dir = data_dir.clone();
    let lock = tokio::task::spawn_blocking(move || lock_dir.lock_waiting(&holder_name, patience))
        .await
        .context("the lock waiter crashed")?
        .map_err(|e| explain_busy(config, e))?;
    Stores::open_locked(&data_dir, config.embedding.dimensions, lock)
        .await
        .with_context(|| format!("cannot open the data directory {}", config.data_dir.display()))
}

/// Loads the embedding model for search queries (see [`OnnxEmbedder::for_queries`]).
pub async fn load_query_embedder(config: &Config) -> anyhow::Result<Arc<dyn Embedder>> {
    let config = config.clone();
    let embedder = tokio::task::spawn_blocking(move || OnnxEmbedder::for_queries(&config))
        .await
        .context("the embedding model loader crashed")??;
    Ok(Arc::new(embedder))
}

/// A hybrid retriever over `stores`, with the query embedding model loaded.
pub async fn retriever(config: &Config, stores: &Stores) -> anyhow::Result<Retriever> {
    let embedder = load_query_embedder(config).await?;
    Ok(Retriever::new(stores.text.clone(), stores.vectors.clone(), embedder, config.retrieval.clone()))
}

/// Loads the language model (seconds; the GGUF file is read once and shared).
pub async fn load_language_model(config: &Config) -> anyhow::Result<Arc<dyn ChatModel>> {
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
