//! Lore's HTTP services. `lore serve`: the web UI, the JSON API and the OpenAI-compatible endpoint in
//! one process, with the ingestion worker running in the background (or, `--no-worker`, a stateless
//! replica over shared stores). Give [`Application::build`] a configuration, get a bound server (port 0
//! picks a free one, for tests); [`Application::run_until_stopped`] serves until the shutdown future
//! completes, then lets the running ingest commit its files in flight. `lore serve-model`:
//! [`model_service`], the language model over OpenAI's chat API for web tiers on other machines.
//!
//! Layers, each using only those below it:
//! - `pages/` (HTML, askama templates from `templates/`, assets from `static/`) over `api/` (JSON
//!   endpoints, one module per resource, described by `api::ApiDoc`);
//! - `answering` (the one path every answering endpoint takes: admission, metrics, cancellation),
//!   `access` (the caller and its checks) over `auth` (who a request acts as: open, proxy, sessions,
//!   API tokens), `render` (answers and documents to HTML);
//! - `state` (what every handler shares) over `ingest_jobs` (jobs into the queue, its live status out,
//!   the embedded worker), `cache` (results per caller, emptied on every commit) and `metrics`;
//! - `schema` (the JSON shapes the CLI prints too), `error`, `extract`, `exposure`, `listen`.

pub mod access;
pub mod answering;
pub mod api;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod error;
pub mod exposure;
pub mod extract;
pub mod ingest_jobs;
pub mod listen;
pub mod metrics;
pub mod model_service;
pub mod pages;
pub mod render;
pub mod schema;
pub mod state;

mod app;
mod router;

pub use app::{Application, ServeOptions};
