//! `lore status`: documents, chunks and failures per source; `--check` compares the three stores.

use std::process::ExitCode;

use clap::Args;
use lore_core::catalog::{Catalog, CatalogStatus, FailureRecord, PostgresCatalog, SqliteCatalog};
use lore_core::config::Config;
use lore_core::datadir::DataDir;
use serde_json::json;

use crate::terminal::thousands;
use lore_engine as engine;

#[derive(Args)]
pub struct StatusArgs {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Verify that the catalog, the text index and the vector store agree, document by document: chunk
    /// counts and the ACL every chunk carries; exits non-zero when they do not.
    #[arg(long)]
    pub check: bool,
    /// List every file that failed, with the reason.
    #[arg(long)]
    pub failures: bool,
}

/// The counts, and the failures when asked for.
async fn read_catalog(
    catalog: &dyn Catalog,
    with_failures: bool,
) -> anyhow::Result<(CatalogStatus, Vec<FailureRecord>)> {
    let failures = if with_failures { catalog.failures(None).await? } else { Vec::new() };
    Ok((catalog.status().await?, failures))
}

pub async fn run(config: Config, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let data_dir = DataDir::new(&config.data_dir);
    let (status, failures) = if let Some(url) = &config.catalog.url {
        read_catalog(&PostgresCatalog::open(url, 1).await?, args.failures).await?
    } else if data_dir.catalog_path().exists() {
        read_catalog(&SqliteCatalog::open_read_only(&data_dir.catalog_path()).await?, args.failures).await?
    } else {
        (CatalogStatus { sources: Vec::new(), pending: 0 }, Vec::new())
    };

    let check = if args.check {
        let stores = engine::open_stores(&config, "lore status --check").await?;
        Some(lore_ingest::recover::check(&stores).await?)
    } else {
        None
    };

    let totals = |f: fn(&lore_core::catalog::SourceStatus) -> u64| status.sources.iter().map(f).sum::<u64>();
    let (documents, chunks, failed) = (totals(|s| s.documents), totals(|s| s.chunks), totals(|s| s.failed));
    if args.json {
        let mut out = json!({
            "sources": status.sources.iter().map(|s| json!({
                "name": s.name, "documents": s.documents, "chunks": s.chunks, "failed": s.failed,
            })).collect::<Vec<_>>(),
            "documents": documents,
            "chunks": chunks,
            "failed": failed,
        });
        if args.failures {
            out["failures"] = serde_json::to_value(&failures)?;
        }
        if let Some(check) = &check {
            out["check"] = serde_json::to_value(check)?;
            out["consistent"] = json!(check.is_consistent());
        }
        println!("{out}");
    } else {
        print_table(&config, &status, documents, chunks, failed);
        print_failures(&failures);
        if let Some(check) = &check {
            if check.is_consistent() {
                println!(
                    "check: consistent ({} chunks in the catalog, the text index and the vector store)",
                    thousands(check.catalog_chunks)
                );
            } else {
                println!(
                    "check: INCONSISTENT: catalog {} chunks, text index {}, vector store {}; {} pending documents",
                    check.catalog_chunks, check.text_chunks, check.vector_chunks, check.pending_documents
                );
                for d in check.disagreements.iter().take(20) {
                    println!(
                        "  document {}: catalog {}, text {}, vectors {}",
                        d.document, d.catalog, d.text, d.vectors
                    );
                }
                for m in check.mislabeled.iter().take(20) {
                    println!(
                        "  document {}: the catalog gives it ACL {:?}, its chunks carry {:?} in the text index and {:?} in the vector store",
                        m.document, m.catalog, m.text, m.vectors
                    );
                }
                if !check.miscounted_documents.is_empty() {
                    println!("  documents with a wrong chunk count: {:?}", check.miscounted_documents);
                }
                println!("  run `lore ingest` on the source again to repair");
            }
        }
    }
    Ok(match check {
        Some(check) if !check.is_consistent() => ExitCode::FAILURE,
        _ => ExitCode::SUCCESS,
    })
}

fn print_table(config: &Config, status: &CatalogStatus, documents: u64, chunks: u64, failed: u64) {
    println!("data directory {}", config.data_dir.display());
    if status.sources.is_empty() {
        println!("nothing indexed yet: run `lore ingest <folder>`");
        return;
    }
    println!("{:<24} {:>10} {:>10} {:>8}  root", "source", "documents", "chunks", "failed");
    for s in &status.sources {
        println!(
            "{:<24} {:>10} {:>10} {:>8}  {}",
            s.name,
            thousands(s.documents),
            thousands(s.chunks),
            thousands(s.failed),
            s.root.display()
        );
    }
    if status.sources.len() > 1 {
        println!("{:<24} {:>10} {:>10} {:>8}", "total", thousands(documents), thousands(chunks), thousands(failed));
    }
    if let Some(writer) = DataDir::new(&config.data_dir).current_writer() {
        println!("being written now by {writer}");
        if status.pending > 0 {
            println!("{} documents are being indexed right now", status.pending);
        }
    } else if status.pending > 0 {
        println!("{} documents are half-written by an interrupted run; the next ingest repairs them", status.pending);
    }
}

fn print_failures(failures: &[FailureRecord]) {
    if failures.is_empty() {
        return;
    }
    println!("failures:");
    for f in failures {
        println!("  {}/{}: {}", f.source, f.path, f.error);
    }
}
