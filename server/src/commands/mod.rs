pub mod bench;
pub mod ingest;
pub mod status;

mod progress;
