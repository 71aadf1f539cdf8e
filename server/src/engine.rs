//! Wiring: from a configuration to opened stores, a loaded embedder and a ready syncer.

use std::sync::Arc;

use anyhow::Context;
use lore_core::config::Config;
use lore_core::datadir::DataDir;
use lore_core::embed::{Embedder, OnnxEmbedder, TokenCounter};
use lore_ingest::chunk::Chunker;
use lore_ingest::{Stores, Syncer};

/// Opens the data directory's stores for writing (creating the directory if needed).
pub async fn open_stores(config: &Config, holder: &str) -> anyhow::Result<Stores> {
    let data_dir = DataDir::create(&config.data_dir)?;
    Stores::open_embedded(&data_dir, config.embedding.dimensions, holder)
        .await
        .with_context(|| format!("cannot open the data directory {}", config.data_dir.display()))
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
