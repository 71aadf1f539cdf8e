pub mod admin;
pub mod ask;
pub mod audit;
pub mod bench;
pub mod eval;
pub mod ingest;
pub mod search;
pub mod serve;
pub mod serve_model;
pub mod status;
pub mod token;
pub mod worker;

mod progress;
mod scope;
mod signals;
