//! The `lore` binary's library: the CLI commands, the wiring from configuration to loaded components
//! (`engine`), the web service (`web`) and the model service (`model_service`). `main.rs` only parses the command line and dispatches.

pub mod commands;
pub mod dates;
pub mod engine;
pub mod logging;
pub mod model_service;
pub mod terminal;
pub mod web;
