//! Give it a dataset's documents and a folder, get one Markdown file per document (titled by front
//! matter) and the map from file path back to document id. The index is then built by `lore ingest`'s
//! own pipeline, so the evaluation measures what users get.

use std::collections::HashMap;
use std::path::Path;

use crate::dataset::EvalDocument;
use crate::EvalError;

/// Files per sub-folder: keeps directories small for corpora of millions of documents.
const FILES_PER_FOLDER: usize = 1000;

/// Writes the documents under `dir`; returns relative path -> document id.
pub fn write_corpus(documents: &[EvalDocument], dir: &Path) -> Result<HashMap<String, String>, EvalError> {
    let mut paths = HashMap::with_capacity(documents.len());
    for (n, document) in documents.iter().enumerate() {
        // The position keeps paths unique whatever the ids contain; the id keeps them readable.
        let safe: String =
            document.id.chars().take(60).map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        let relative = format!("{:04}/{n:07}-{safe}.md", n / FILES_PER_FOLDER);
        let path = dir.join(&relative);
        let title = document.title.split_whitespace().collect::<Vec<_>>().join(" ");
        let content = if title.is_empty() {
            document.text.clone()
        } else {
            format!("---\ntitle: \"{}\"\n---\n{}\n", title.replace('"', "'"), document.text)
        };
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(path.parent().expect("corpus files sit in a folder"))?;
            std::fs::write(&path, content)
        };
        write().map_err(|source| EvalError::Write { path: path.clone(), source })?;
        paths.insert(relative, document.id.clone());
    }
    Ok(paths)
}
