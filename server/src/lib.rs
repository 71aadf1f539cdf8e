//! The `lore` binary's library: the CLI commands and their terminal output. The wiring from
//! configuration to loaded components is `lore-engine`, the web and model services are `lore-web`;
//! `main.rs` only parses the command line and dispatches.

pub mod commands;
pub mod dates;
pub mod logging;
pub mod terminal;
