//! The three stores ingestion writes, opened together: on one data directory (embedded), or a shared
//! catalog with local indexes, or a shared catalog with a Qdrant server holding both indexes.

use std::sync::Arc;

use lore_core::accounts::AccountStore;
use lore_core::audit::AuditLog;
use lore_core::catalog::{Catalog, CatalogError, SqliteCatalog};
use lore_core::conversations::ConversationStore;
use lore_core::datadir::{DataDir, DataDirError, WriterLock};
use lore_core::qdrant_server::QdrantServerIndex;
use lore_core::queue::JobQueue;
use lore_core::text::{OpenMode, TantivyTextIndex, TextError, TextIndex};
use lore_core::vectors::{EdgeVectorIndex, VectorError, VectorIndex};
use lore_core::DocumentId;

#[derive(Debug, thiserror::Error)]
pub enum StoresError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Text(#[from] TextError),
    #[error(transparent)]
    Vectors(#[from] VectorError),
}

/// Catalog, full-text index and vector store, opened for writing. Where any of them lives in the data
/// directory, its writer lock is held for as long as this value lives.
#[derive(Clone)]
pub struct Stores {
    pub catalog: Arc<dyn Catalog>,
    /// The ingestion job queue, in the catalog's database.
    pub queue: Arc<dyn JobQueue>,
    /// People who sign in and their sessions, in the catalog's database.
    pub accounts: Arc<dyn AccountStore>,
    /// The audit log, in the catalog's database.
    pub audit: Arc<dyn AuditLog>,
    /// People's conversations in the browser, in the catalog's database.
    pub conversations: Arc<dyn ConversationStore>,
    pub text: Arc<dyn TextIndex>,
    pub vectors: Arc<dyn VectorIndex>,
    lock: Option<Arc<WriterLock>>,
    /// Both indexes are one Qdrant server collection (a point per chunk carries the text and the
    /// vector): deleting or relabelling through one already did it for the other.
    one_collection: bool,
}

impl Stores {
    /// Opens the embedded stores (SQLite, tantivy, Qdrant Edge) of `data_dir` for writing; fails at once
    /// if another process writes to it.
    pub async fn open_embedded(data_dir: &DataDir, dimensions: usize, holder: &str) -> Result<Self, StoresError> {
        let lock = data_dir.lock_for_writing(holder)?;
        Self::open_locked(data_dir, dimensions, lock).await
    }

    /// Opens the embedded stores of `data_dir` under a writer lock the caller took.
    pub async fn open_locked(data_dir: &DataDir, dimensions: usize, lock: WriterLock) -> Result<Self, StoresError> {
        let catalog = Arc::new(SqliteCatalog::open(&data_dir.catalog_path()).await?);
        Self::open_with_catalog(data_dir, dimensions, lock, catalog).await
    }

    /// Opens the indexes of `data_dir` under a writer lock the caller took, with a catalog (and job
    /// queue) opened elsewhere: PostgreSQL, when several processes share it.
    pub async fn open_with_catalog<C>(
        data_dir: &DataDir,
        dimensions: usize,
        lock: WriterLock,
        catalog: Arc<C>,
    ) -> Result<Self, StoresError>
    where
        C: Catalog + JobQueue + AccountStore + AuditLog + ConversationStore + 'static,
    {
        let (text_dir, vectors_dir) = (data_dir.text_dir(), data_dir.vectors_dir());
        let (text, vectors) = tokio::task::spawn_blocking(move || -> Result<_, StoresError> {
            Ok((TantivyTextIndex::open(&text_dir, OpenMode::Write)?, EdgeVectorIndex::open(&vectors_dir, dimensions)?))
        })
        .await
        .expect("opening the indexes does not panic")?;
        Ok(Self {
            catalog: catalog.clone(),
            queue: catalog.clone(),
            accounts: catalog.clone(),
            audit: catalog.clone(),
            conversations: catalog,
            text: Arc::new(text),
            vectors: Arc::new(vectors),
            lock: Some(Arc::new(lock)),
            one_collection: false,
        })
    }

    /// A catalog (and job queue) and a Qdrant server, both shared with other processes: nothing is
    /// kept locally, so no lock is taken (the queue keeps two syncs of one source apart).
    pub fn open_shared<C>(catalog: Arc<C>, index: Arc<QdrantServerIndex>) -> Self
    where
        C: Catalog + JobQueue + AccountStore + AuditLog + ConversationStore + 'static,
    {
        Self {
            catalog: catalog.clone(),
            queue: catalog.clone(),
            accounts: catalog.clone(),
            audit: catalog.clone(),
            conversations: catalog,
            text: index.clone(),
            vectors: index,
            lock: None,
            one_collection: true,
        }
    }

    /// The embedded catalog of `data_dir` (under a writer lock the caller took) with a Qdrant server
    /// for the indexes.
    pub async fn open_sqlite_with_server(
        data_dir: &DataDir,
        lock: WriterLock,
        index: Arc<QdrantServerIndex>,
    ) -> Result<Self, StoresError> {
        let catalog = Arc::new(SqliteCatalog::open(&data_dir.catalog_path()).await?);
        Ok(Self { lock: Some(Arc::new(lock)), ..Self::open_shared(catalog, index) })
    }

    /// Whether something lives in the data directory (and this value holds its writer lock).
    pub fn holds_data_dir(&self) -> bool {
        self.lock.is_some()
    }

    /// Removes the chunks of `documents` from both indexes (one request where they are one
    /// collection). Blocking; durable after [`Self::persist_indexes`].
    pub fn delete_from_indexes(&self, documents: &[DocumentId]) -> Result<(), StoresError> {
        self.text.delete_documents(documents)?;
        if !self.one_collection {
            self.vectors.delete_documents(documents)?;
        }
        Ok(())
    }

    /// Gives the chunks of `documents` the ACL `acl` in both indexes (one request where they are one
    /// collection). Blocking; durable after [`Self::persist_indexes`].
    pub fn relabel_in_indexes(&self, documents: &[DocumentId], acl: &[String]) -> Result<(), StoresError> {
        self.text.relabel(documents, acl)?;
        if !self.one_collection {
            self.vectors.relabel(documents, acl)?;
        }
        Ok(())
    }

    /// Makes every index write so far durable: tantivy commit, then Qdrant Edge flush. Blocking.
    pub fn persist_indexes(&self) -> Result<(), StoresError> {
        self.text.commit()?;
        self.vectors.flush()?;
        Ok(())
    }
}
