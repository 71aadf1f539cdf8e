//! The `lore` command as users and outside checks run it: flags, exit codes, JSON shapes, crash safety.
//! One test binary; each module covers one command.

mod accounts;
mod ask;
mod deploy;
mod eval;
mod ingest;
mod model_service;
mod scale_out;
mod search;
mod worker;
mod workspace;
