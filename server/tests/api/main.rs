//! The web service over HTTP, as browsers, API clients and operators use it: each test spawns the whole
//! app (real models, real stores on a fresh data directory) on port 0. One test binary; one module per
//! area.

mod accounts;
mod answers;
mod browser;
mod conversations;
mod documents;
mod helpers;
mod leaks;
mod oidc;
mod operations;
mod pages;
mod search;
mod security;
mod sources;
