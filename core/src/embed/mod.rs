//! Embedding: give it texts, get unit-length vectors; and the tokenizer that sizes chunks so the model
//! never truncates them.

mod batch;
mod onnx;
mod runtime;
mod tokens;

pub use batch::BatchingEmbedder;
pub use onnx::OnnxEmbedder;
pub use runtime::init_onnx_runtime;
pub use tokens::TokenCounter;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error(
        "ONNX Runtime library not found at {0}; run scripts/fetch-models.sh, or point \
         embedding.onnx_runtime (LORE_EMBEDDING__ONNX_RUNTIME) at a libonnxruntime.so >= 1.24"
    )]
    RuntimeMissing(std::path::PathBuf),
    #[error("cannot load ONNX Runtime from {path}: {reason}")]
    Runtime { path: std::path::PathBuf, reason: String },
    #[error(
        "embedding model file {0} not found; run scripts/fetch-models.sh, or point embedding.model \
         (LORE_EMBEDDING__MODEL) at an ONNX sentence-embedding model"
    )]
    ModelMissing(std::path::PathBuf),
    #[error("cannot read {path}: {source}")]
    Read { path: std::path::PathBuf, source: std::io::Error },
    #[error("cannot load the tokenizer from {path}: {reason}")]
    Tokenizer { path: std::path::PathBuf, reason: String },
    #[error("cannot load the embedding model {path}: {reason}")]
    Model { path: std::path::PathBuf, reason: String },
    #[error("embedding failed: {0}")]
    Inference(String),
    #[error("the model returned {actual}-dimensional vectors, the configuration says {expected}")]
    Dimensions { expected: usize, actual: usize },
}

pub type Result<T, E = EmbedError> = std::result::Result<T, E>;

/// Turns texts into vectors for the vector store. Implementations are CPU-bound and blocking: call them
/// from a blocking thread, never from async code.
pub trait Embedder: Send + Sync {
    fn dimensions(&self) -> usize;
    /// One unit-length vector per text, in order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
}
