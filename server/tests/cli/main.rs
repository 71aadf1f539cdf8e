//! The `lore` command as users and outside checks run it: flags, exit codes, JSON shapes, crash safety.
//! One test binary; each module covers one command.

mod ask;
mod eval;
mod ingest;
mod search;
mod worker;
mod workspace;
