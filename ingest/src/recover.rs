//! Crash recovery and the consistency check across the three stores.
//!
//! The invariant (ARCHITECTURE.md): outside a running sync, every chunk row of an `indexed` document
//! is in the text index and the vector store, and nothing else is. A sync that dies leaves `pending`
//! documents; [`recover`] purges them from both indexes and forgets them, so the next sync indexes
//! those files anew: no duplicates, no orphans.

use std::collections::{BTreeMap, BTreeSet};

use lore_core::catalog::SourceId;
use lore_core::DocumentId;
use serde::Serialize;

use crate::stores::{Stores, StoresError};

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// Documents a previous sync left half-written, now purged (their files are indexed anew).
    pub purged_documents: u64,
    /// Documents whose chunks disagreed between stores after an unclean stop, now purged.
    pub repaired_documents: u64,
    /// Runs a previous process left `running`.
    pub interrupted_runs: u64,
}

/// Purges what an interrupted sync left behind. Call with the writer lock held, before any other write.
///
/// After an unclean stop (a run left `running`, or pending documents), it also compares the stores
/// document by document and purges any document they disagree on, by chunk id rather than through the
/// vector store's payload index, which a killed process may not have flushed.
pub async fn recover(stores: &Stores) -> Result<Recovery, StoresError> {
    let interrupted_runs = stores.catalog.interrupt_stale_runs().await?;
    let pending = stores.catalog.pending_documents().await?;
    forget_half_written(stores, &pending).await?;
    let mut repaired = 0;
    if interrupted_runs > 0 || !pending.is_empty() {
        let report = check(stores).await?;
        let stray: Vec<DocumentId> = report
            .disagreements
            .iter()
            .map(|d| DocumentId(d.document))
            .chain(report.mislabeled.iter().map(|m| DocumentId(m.document)))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !stray.is_empty() {
            tracing::warn!(documents = stray.len(), "purging documents the stores disagree on");
            purge_by_chunk_id(stores, stray.clone()).await?;
            stores.catalog.delete_documents(&stray).await?;
            repaired = stray.len() as u64;
        }
    }
    Ok(Recovery { purged_documents: pending.len() as u64, repaired_documents: repaired, interrupted_runs })
}

/// What a sync of one source that died left behind, when several workers share the catalog: its
/// pending documents are purged from both indexes and forgotten, its runs marked interrupted. Call when
/// this worker holds the source's job (the queue runs one job per source at a time), before any write.
/// The cross-store comparison of [`recover`] is left to `lore status --check`: it reads every store.
pub async fn recover_source(stores: &Stores, source: SourceId) -> Result<Recovery, StoresError> {
    let interrupted_runs = stores.catalog.interrupt_stale_runs_of(source).await?;
    let pending = stores.catalog.pending_documents_of(source).await?;
    forget_half_written(stores, &pending).await?;
    Ok(Recovery { purged_documents: pending.len() as u64, repaired_documents: 0, interrupted_runs })
}

/// Purges `pending` documents from both indexes, then from the catalog: their files are read anew.
async fn forget_half_written(stores: &Stores, pending: &[DocumentId]) -> Result<(), StoresError> {
    if pending.is_empty() {
        return Ok(());
    }
    tracing::warn!(documents = pending.len(), "purging documents an interrupted sync left half-written");
    purge_from_indexes(stores, pending.to_vec()).await?;
    stores.catalog.delete_documents(pending).await?;
    Ok(())
}

async fn purge_by_chunk_id(stores: &Stores, documents: Vec<DocumentId>) -> Result<(), StoresError> {
    let stores = stores.clone();
    tokio::task::spawn_blocking(move || -> Result<(), StoresError> {
        let targets: BTreeSet<DocumentId> = documents.iter().copied().collect();
        let chunks: Vec<_> =
            stores.vectors.chunk_ids()?.into_iter().filter(|c| targets.contains(&c.document())).collect();
        stores.vectors.delete_chunks(&chunks)?;
        stores.text.delete_documents(&documents)?;
        stores.persist_indexes()
    })
    .await
    .expect("purging does not panic")
}

/// Removes documents from both indexes and makes that durable. Blocking work runs off the runtime.
pub async fn purge_from_indexes(stores: &Stores, documents: Vec<DocumentId>) -> Result<(), StoresError> {
    let stores = stores.clone();
    tokio::task::spawn_blocking(move || -> Result<(), StoresError> {
        stores.delete_from_indexes(&documents)?;
        stores.persist_indexes()
    })
    .await
    .expect("purging does not panic")
}

/// One document whose chunk counts differ between stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disagreement {
    pub document: i64,
    pub catalog: u64,
    pub text: u64,
    pub vectors: u64,
}

/// One document whose chunks carry another ACL in an index than the catalog gives it: readers would
/// see it (or miss it) against its source's permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mislabeled {
    pub document: i64,
    /// The source's ACL, as the catalog has it.
    pub catalog: Vec<String>,
    /// The distinct ACLs its chunks carry in the text index and in the vector store.
    pub text: Vec<Vec<String>>,
    pub vectors: Vec<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsistencyReport {
    pub catalog_chunks: u64,
    pub text_chunks: u64,
    pub vector_chunks: u64,
    pub pending_documents: u64,
    /// Documents whose `chunk_count` disagrees with their chunk rows.
    pub miscounted_documents: Vec<i64>,
    pub disagreements: Vec<Disagreement>,
    /// Documents whose chunks' ACL in an index differs from the catalog's.
    pub mislabeled: Vec<Mislabeled>,
}

impl ConsistencyReport {
    pub fn is_consistent(&self) -> bool {
        self.pending_documents == 0
            && self.miscounted_documents.is_empty()
            && self.disagreements.is_empty()
            && self.mislabeled.is_empty()
    }
}

/// Compares, document by document, the chunks the catalog, the text index and the vector store hold,
/// and the ACL those chunks carry.
pub async fn check(stores: &Stores) -> Result<ConsistencyReport, StoresError> {
    let catalog = stores.catalog.chunk_counts().await?;
    let miscounted = stores.catalog.miscounted_documents().await?;
    let pending = stores.catalog.pending_documents().await?.len() as u64;
    let acls = stores.catalog.document_acls().await?;
    let indexes = stores.clone();
    let (text, vectors, text_labels, vector_labels) = tokio::task::spawn_blocking(move || -> Result<_, StoresError> {
        Ok((
            indexes.text.chunk_counts()?,
            indexes.vectors.chunk_counts()?,
            indexes.text.acl_labels()?,
            indexes.vectors.acl_labels()?,
        ))
    })
    .await
    .expect("counting does not panic")?;
    let mislabeled = acls
        .into_iter()
        .filter_map(|(document, mut acl)| {
            acl.sort();
            acl.dedup();
            let expected = BTreeSet::from([acl.clone()]);
            let (text, vectors) = (text_labels.get(&document), vector_labels.get(&document));
            // A document missing from an index is a count disagreement, reported above.
            let wrong = |labels: Option<&BTreeSet<Vec<String>>>| labels.is_some_and(|l| *l != expected);
            (wrong(text) || wrong(vectors)).then(|| Mislabeled {
                document: document.0,
                catalog: acl,
                text: text.map(|l| l.iter().cloned().collect()).unwrap_or_default(),
                vectors: vectors.map(|l| l.iter().cloned().collect()).unwrap_or_default(),
            })
        })
        .collect();
    let documents: BTreeSet<DocumentId> = catalog.keys().chain(text.keys()).chain(vectors.keys()).copied().collect();
    let count = |map: &BTreeMap<DocumentId, u64>, d: &DocumentId| map.get(d).copied().unwrap_or(0);
    let disagreements = documents
        .iter()
        .filter_map(|d| {
            let (c, t, v) = (count(&catalog, d), count(&text, d), count(&vectors, d));
            (c != t || c != v).then_some(Disagreement { document: d.0, catalog: c, text: t, vectors: v })
        })
        .collect();
    Ok(ConsistencyReport {
        catalog_chunks: catalog.values().sum(),
        text_chunks: text.values().sum(),
        vector_chunks: vectors.values().sum(),
        pending_documents: pending,
        miscounted_documents: miscounted.into_iter().map(|d| d.0).collect(),
        disagreements,
        mislabeled,
    })
}
