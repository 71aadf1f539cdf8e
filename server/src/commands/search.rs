//! `lore search QUERY`: hybrid search over what `lore ingest` indexed, as a reader with given principals.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use lore_core::config::{Config, FusionMethod};
use lore_retrieve::{Mode, SearchError, SearchRequest, SearchResults};

use crate::commands::scope::ScopeArgs;
use crate::terminal::Style;
use lore_engine as engine;
use lore_web::schema::{Detail, SearchJson};

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
        println!("{}", serde_json::to_string(&SearchJson::new(&results, Detail::Full)).expect("results serialise"));
    } else {
        print_results(&results, args.offset);
    }
    Ok(ExitCode::SUCCESS)
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
