//! The `lore` binary's library: the CLI commands, the wiring from configuration to loaded components
//! (`engine`), and the web service (`web`). `main.rs` only parses the command line and dispatches.

pub mod commands;
pub mod dates;
pub mod engine;
pub mod logging;
pub mod terminal;
pub mod web;
