//! Lore's ingestion: folders of documents in, consistent catalog + text index + vector store out.
//!
//! - [`extract`]: bytes of a PDF, Markdown, HTML, text or DOCX file -> text with page and heading marks.
//! - [`chunk`]: extracted text -> chunks sized in the embedding model's tokens, with positions.
//! - [`acl`]: a source folder's `.lore-acl` files -> what each document's folder grants.
//! - [`discover`]: a folder -> the files Lore indexes, with size and modification time.
//! - [`read`]: a scanned file -> its bytes, if it is still a regular file inside its folder.
//! - [`sync`]: a folder and the stores -> the stores in sync with the folder (incremental, crash-safe).
//! - [`watch`]: keeps a folder in sync as files change.
//! - [`jobs`]: ingestion as queued jobs: payloads, live progress and summaries.
//! - [`worker`]: claims jobs from the queue and runs them (`lore worker`, the embedded server).

pub mod acl;
pub mod chunk;
pub mod discover;
pub mod extract;
pub mod jobs;
pub mod progress;
pub mod read;
pub mod recover;
pub mod stores;
pub mod sync;
pub mod watch;
pub mod worker;

pub use progress::{Progress, ProgressEvent};
pub use stores::Stores;
pub use sync::{FileFailure, SyncOptions, SyncReport, Syncer};
