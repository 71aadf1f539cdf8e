//! What a sync reports while it runs, for progress bars and live status pages.

/// How one file ended in a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOutcome {
    Indexed,
    Unchanged,
    Failed,
}

#[derive(Debug, Clone)]
pub enum ProgressEvent<'a> {
    /// The folder is being walked.
    Scanning,
    /// The walk is done: `to_read` files are new or may have changed and will be read.
    Planned { files: u64, to_read: u64, unchanged: u64, removed: u64 },
    /// Chunks went through the embedding model.
    Embedded { chunks: u64 },
    /// A file is done; `chunks` is how many it was indexed with.
    FileDone { path: &'a str, outcome: FileOutcome, chunks: u64 },
    /// Everything so far is durable in all three stores.
    Committed { documents: u64, chunks: u64 },
    /// The source's ACL changed: the chunks of `documents` are being relabelled in both indexes.
    Relabeling { documents: u64 },
    /// The new ACL is durable in all three stores.
    Relabeled { documents: u64 },
    /// The indexes reorganise what changed: text segments merge, the vector store builds its search
    /// graph (searches work meanwhile).
    Optimizing,
}

/// Receives progress events; called from several threads.
pub trait Progress: Send + Sync {
    fn event(&self, event: ProgressEvent<'_>);
}

/// Discards progress.
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: ProgressEvent<'_>) {}
}
