//! A sentence-embedding ONNX model (BERT family: `input_ids`, `attention_mask`, `token_type_ids` in,
//! `last_hidden_state` out), run by ONNX Runtime through fastembed, mean-pooled and L2-normalised.

use std::path::Path;

use fastembed::{InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel};
use parking_lot::Mutex;

use super::{init_onnx_runtime, EmbedError, Embedder, Result};
use crate::config::Config;

/// Texts per model call for queries. The model's work grows with the tokens of a call, padding
/// included, not with the number of calls: short queries sorted by length and run 4 to 8 at a time cost
/// the least per query (MiniLM-L6, one thread, `scripts/bench-query-batches.py`: 4.1 ms alone, 2.8-2.9 in
/// sorted groups of 4 to 8, 3.2 in one sorted group of 32, 5.2 unsorted).
const QUERY_GROUP: usize = 8;

pub struct OnnxEmbedder {
    model: Mutex<TextEmbedding>,
    dimensions: usize,
    batch_size: usize,
}

impl OnnxEmbedder {
    /// Loads the model and tokenizer the configuration names, and ONNX Runtime if not loaded yet, for
    /// batches of passages (ingestion): inference uses `embedding.threads`.
    pub fn from_config(config: &Config) -> Result<Self> {
        Self::with_threads(config, config.embedding_threads(), config.embedding.batch_size)
    }

    /// The same model for search queries: short texts, one at a time, each on `embedding.query_threads`
    /// threads so that the full-text search running beside it keeps a core. A separate instance from
    /// ingestion's, so that a query never waits behind a batch of passages.
    /// Queries that arrive together (see `BatchingEmbedder`) run in sorted groups of at most
    /// [`QUERY_GROUP`].
    pub fn for_queries(config: &Config) -> Result<Self> {
        let batch_size = config.embedding.batch_size.min(QUERY_GROUP);
        Self::with_threads(config, config.embedding.query_threads.max(1), batch_size)
    }

    fn with_threads(config: &Config, threads: usize, batch_size: usize) -> Result<Self> {
        let environment = init_onnx_runtime(&config.onnx_runtime_path())?;
        let model_path = config.embedding_model_path();
        if !model_path.is_file() {
            return Err(EmbedError::ModelMissing(model_path));
        }
        let tokenizer_dir = config.tokenizer_dir();
        let read =
            |path: &Path| std::fs::read(path).map_err(|source| EmbedError::Read { path: path.to_path_buf(), source });
        let tokenizer_files = TokenizerFiles {
            tokenizer_file: read(&tokenizer_dir.join("tokenizer.json"))?,
            config_file: read(&tokenizer_dir.join("config.json"))?,
            special_tokens_map_file: read(&tokenizer_dir.join("special_tokens_map.json"))?,
            tokenizer_config_file: read(&tokenizer_dir.join("tokenizer_config.json"))?,
        };
        let model = UserDefinedEmbeddingModel::new(read(&model_path)?, tokenizer_files).with_pooling(Pooling::Mean);
        let options = InitOptionsUserDefined::new()
            .with_environment(environment)
            .with_max_length(config.embedding.max_tokens)
            .with_intra_threads(threads);
        let model = TextEmbedding::try_new_from_user_defined(model, options)
            .map_err(|e| EmbedError::Model { path: model_path.clone(), reason: e.to_string() })?;
        let embedder =
            Self { model: Mutex::new(model), dimensions: config.embedding.dimensions, batch_size: batch_size.max(1) };
        // Fail at start-up, not in the middle of a run, when the configured dimensions are wrong.
        embedder.embed(&["dimension probe"])?;
        Ok(embedder)
    }
}

impl Embedder for OnnxEmbedder {
    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        // Batches are padded to their longest text: grouping texts of similar length wastes less work.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        let mut model = self.model.lock();
        for batch in order.chunks(self.batch_size) {
            let inputs: Vec<&str> = batch.iter().map(|&i| texts[i]).collect();
            let embedded =
                model.embed(&inputs, Some(self.batch_size)).map_err(|e| EmbedError::Inference(e.to_string()))?;
            for (&i, vector) in batch.iter().zip(embedded) {
                if vector.len() != self.dimensions {
                    return Err(EmbedError::Dimensions { expected: self.dimensions, actual: vector.len() });
                }
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }
}
