//! Retrieval evaluation: give it labelled data (SQuAD v2 JSON or a BEIR folder) and a retriever over an
//! index built from it, get Recall@k, MRR@10, nDCG@10 and latency per ranking mode.
//!
//! - [`dataset`]: the common form, and the SQuAD and BEIR readers.
//! - [`corpus`]: writes a dataset's documents as files, so the index is built by the real ingestion.
//! - [`metrics`]: ranking metrics and latency percentiles.
//! - [`runner`]: runs every query in every mode; also re-fuses the same candidates with other settings.

pub mod corpus;
pub mod dataset;
pub mod metrics;
pub mod qa;
pub mod runner;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}: {source}")]
    Read { path: std::path::PathBuf, source: std::io::Error },
    #[error("{path} is not valid {format}: {reason}")]
    Format { path: std::path::PathBuf, format: &'static str, reason: String },
    #[error("{0} has no labelled queries to evaluate")]
    NoQueries(std::path::PathBuf),
    #[error("cannot write the evaluation corpus to {path}: {source}")]
    Write { path: std::path::PathBuf, source: std::io::Error },
    #[error(transparent)]
    Search(#[from] lore_retrieve::SearchError),
}
