//! `lore serve`: the web UI, the JSON API and the OpenAI-compatible endpoint in one process, with the
//! ingestion worker running in the background. Give [`Application::build`] a configuration, get a bound
//! server (port 0 picks a free one, for tests); [`Application::run_until_stopped`] serves until the
//! shutdown future completes, then lets the running ingest commit its files in flight.
//!
//! - `api/`: JSON endpoints, one module per resource, described by `api::ApiDoc` (OpenAPI).
//! - `pages/`: HTML pages (askama templates and assets from `web/` in the repository).
//! - `answering`: the one path every answering endpoint takes (admission, metrics, cancellation).
//! - `ingest_jobs`: ingestion jobs into the queue, its live status out (and the embedded worker).

pub mod access;
pub mod answering;
pub mod api;
pub mod cache;
pub mod error;
pub mod exposure;
pub mod extract;
pub mod ingest_jobs;
pub mod listen;
pub mod metrics;
pub mod pages;
pub mod schema;
pub mod state;

mod app;

pub use app::{Application, ServeOptions, SERVER_FILE};
