pub mod ask;
pub mod bench;
pub mod eval;
pub mod ingest;
pub mod search;
pub mod serve;
pub mod status;

mod progress;
mod scope;
