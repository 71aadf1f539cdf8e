//! Logs go to stderr through `tracing`; `LORE_LOG` takes an env-filter directive (e.g. `debug`,
//! `lore_ingest=trace`). The default shows warnings only, so progress bars and results stay readable.

use tracing_subscriber::EnvFilter;

pub fn init() {
    // pdf-extract and lopdf warn about every odd glyph of real-world PDFs, Qdrant Edge about
    // process-wide settings that only its own server can initialise, and mistral.rs about GPU features
    // a CPU run never uses: noise, not news.
    let filter = EnvFilter::try_from_env("LORE_LOG").unwrap_or_else(|_| {
        EnvFilter::new("warn,pdf_extract=error,lopdf=error,qdrant_edge=error,mistralrs_core=error")
    });
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
    install_panic_hook();
}

/// Parsers of untrusted files run on threads named `lore-extract`; their panics are per-file errors
/// (reported in the summary), not crashes, so they are logged rather than printed.
fn install_panic_hook() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        if thread.name() == Some(lore_ingest::extract::EXTRACT_THREAD_NAME) {
            tracing::debug!(panic = %info, "a document parser panicked");
        } else {
            default_hook(info);
        }
    }));
}
