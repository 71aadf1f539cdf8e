//! `lore search QUERY`: hybrid search over what `lore ingest` indexed, as a reader with given principals.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use lore_core::config::{Config, FusionMethod};
use lore_retrieve::{Hit, Mode, SearchError, SearchRequest, SearchResults};
use serde_json::{json, Value};

use crate::commands::scope::ScopeArgs;
use crate::engine;
use crate::terminal::Style;

#[derive(Args)]
pub struct SearchArgs {
    /// A few words or a question. Text in "double quotes" must appear as a phrase.
    pub query: String,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Number of results.
    #[arg(short = 'k', long = "limit", default_value_t = 10)]
    pub limit: usize,
    /// Results to skip (the next page starts at the previous page's limit).
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Ranking: the configured hybrid fusion (default), or one engine or fusion explicitly.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Bm25,
    Dense,
    Rrf,
    Convex,
}

impl From<ModeArg> for Mode {
    fn from(mode: ModeArg) -> Self {
        match mode {
            ModeArg::Bm25 => Mode::Bm25,
            ModeArg::Dense => Mode::Dense,
            ModeArg::Rrf => Mode::Hybrid(FusionMethod::Rrf),
            ModeArg::Convex => Mode::Hybrid(FusionMethod::Convex),
        }
    }
}

pub async fn run(config: Config, args: SearchArgs) -> anyhow::Result<ExitCode> {
    if args.query.trim().is_empty() {
        // Before anything loads: the answer does not depend on the index.
        return Err(SearchError::EmptyQuery.into());
    }
    let stores = engine::open_existing_stores(&config, "lore search").await?;
    let retriever = engine::retriever(&config, &stores).await?;
    let request = SearchRequest {
        query: args.query.clone(),
        access: args.scope.access(),
        narrowing: args.scope.narrowing(),
        limit: args.limit,
        offset: args.offset,
        mode: args.mode.map(Mode::from),
    };
    let results = retriever.search(&request).await.context("search failed")?;
    if args.json {
        println!("{}", serde_json::to_string(&results_json(&results)).expect("results serialise"));
    } else {
        print_results(&results, args.offset);
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON shape of a hit, shared with the web API: `snippet` is HTML with the query words in `<mark>`.
pub fn hit_json(hit: &Hit) -> Value {
    json!({
        "document_path": hit.document_path,
        "title": hit.title,
        "page": hit.page,
        "heading": hit.heading,
        "text": hit.text,
        "snippet": hit.snippet.to_html(),
        "score": hit.score,
        "source": hit.source,
        "kind": hit.kind,
        "document_id": hit.document_id,
        "chunk_id": hit.chunk_id,
        "start": hit.start,
        "end": hit.end,
        "also_in": hit.also_in,
    })
}

pub fn results_json(results: &SearchResults) -> Value {
    json!({
        "hits": results.hits.iter().map(hit_json).collect::<Vec<_>>(),
        "mode": results.mode.name(),
        "query_truncated": results.query_truncated,
        "timings_ms": results.timings,
    })
}

fn print_results(results: &SearchResults, offset: usize) {
    let styled = std::io::stdout().is_terminal();
    let Style { bold, dim, reset } = Style::new(styled);
    if results.query_truncated {
        eprintln!("note: the query was long and only its beginning was searched");
    }
    if results.hits.is_empty() {
        println!("No results.");
        return;
    }
    for (i, hit) in results.hits.iter().enumerate() {
        let place = match (hit.page, &hit.heading) {
            (Some(page), _) => format!(", page {page}"),
            (None, Some(heading)) => format!(" > {heading}"),
            (None, None) => String::new(),
        };
        println!(
            "{:>2}. {bold}{}{reset}  {dim}{}:{}{place}  ({:.3}){reset}",
            offset + i + 1,
            hit.title,
            hit.source,
            hit.document_path,
            hit.score
        );
        let mut snippet = String::new();
        let mut at = 0;
        for range in &hit.snippet.highlights {
            snippet.push_str(&hit.snippet.text[at..range.start]);
            snippet.push_str(bold);
            snippet.push_str(&hit.snippet.text[range.clone()]);
            snippet.push_str(reset);
            at = range.end;
        }
        snippet.push_str(&hit.snippet.text[at..]);
        println!("    {snippet}");
        if !hit.also_in.is_empty() {
            let others: Vec<&str> = hit.also_in.iter().map(|d| d.document_path.as_str()).collect();
            println!("    {dim}also in: {}{reset}", others.join(", "));
        }
    }
    eprintln!("{dim}{} results, {:.0} ms{reset}", results.hits.len(), results.timings.total_ms);
}
