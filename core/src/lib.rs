//! Lore's shared library: the domain types every crate speaks, the layered configuration, and the stores
//! and model backends behind swappable traits.
//!
//! - [`config`]: give it `lore.toml` + `LORE_*` + flags, get one [`config::Config`].
//! - [`catalog`]: the system of record (sources, documents, chunks, runs); SQLite by default, PostgreSQL
//!   for several processes.
//! - [`acl`]: who may read a document: source ACL, `.lore-acl` files, front matter narrowing.
//! - [`accounts`]: people who sign in and their sessions, in the catalog's database.
//! - [`conversations`]: a user's questions and answers, kept per user, in the catalog's database.
//! - [`audit`]: who searched, asked, opened or administered what, in the catalog's database.
//! - [`queue`]: ingestion jobs claimed by workers under leases, in the catalog's database.
//! - [`vectors`]: chunk embeddings with a filterable payload; Qdrant Edge by default.
//! - [`text`]: the full-text (BM25) index; tantivy.
//! - [`qdrant_server`]: both indexes on a shared Qdrant server, for several processes.
//! - [`embed`]: give it texts, get unit-length vectors; ONNX Runtime through fastembed.
//! - [`datadir`]: the on-disk layout of one data directory and its writer lock.

pub mod accounts;
pub mod acl;
pub mod audit;
pub mod catalog;
pub mod config;
pub mod conversations;
pub mod datadir;
pub mod embed;
pub mod qdrant_server;
pub mod queue;
pub mod text;
pub mod types;
pub mod vectors;

pub use types::*;
