//! Counting tokens exactly as the embedding model will see them.

use std::path::Path;

use tokenizers::Tokenizer;

use super::{EmbedError, Result};

/// The embedding model's tokenizer with truncation and padding off, so that a count is the text's real
/// length (the shipped `tokenizer.json` pads and truncates everything to 128).
#[derive(Clone)]
pub struct TokenCounter {
    tokenizer: Tokenizer,
}

impl TokenCounter {
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let path = dir.join("tokenizer.json");
        let tokenizer_err = |reason: String| EmbedError::Tokenizer { path: path.clone(), reason };
        if !path.is_file() {
            return Err(tokenizer_err("file not found; run scripts/fetch-models.sh".into()));
        }
        let mut tokenizer = Tokenizer::from_file(&path).map_err(|e| tokenizer_err(e.to_string()))?;
        tokenizer.with_truncation(None).map_err(|e| tokenizer_err(e.to_string()))?;
        tokenizer.with_padding(None);
        Ok(Self { tokenizer })
    }

    /// The tokenizer itself, for sizing chunks with `text-splitter`.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Tokens of `text` without the model's special tokens.
    pub fn count(&self, text: &str) -> usize {
        self.tokenizer.encode(text, false).map(|e| e.len()).unwrap_or(usize::MAX)
    }
}
