//! `lore`: private document search and grounded question answering. One binary, subcommands.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lore::{commands, logging, terminal};
use lore_core::config::{Config, Overrides};

#[derive(Parser)]
#[command(name = "lore", version, about = "Private document search and grounded answers, on your own hardware")]
struct Cli {
    /// Data directory (catalog, indexes). Also LORE_DATA_DIR; default ./data.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Models directory (see scripts/fetch-models.sh). Also LORE_MODELS_DIR; default ./models.
    #[arg(long, global = true, value_name = "DIR")]
    models_dir: Option<PathBuf>,
    /// Configuration file; default ./lore.toml when it exists.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Index a folder of documents (PDF, Markdown, HTML, text, DOCX), incrementally.
    Ingest(commands::ingest::IngestArgs),
    /// Search the indexed documents (hybrid BM25 + vectors), as a user with the given principals.
    Search(commands::search::SearchArgs),
    /// Answer a question from the indexed documents with the local model, citing its sources.
    Ask(commands::ask::AskArgs),
    /// Ask questions in a row; follow-ups may refer to earlier answers.
    Chat(commands::ask::ChatArgs),
    /// Serve the web UI and the API, and keep the sources in sync in the background.
    Serve(commands::serve::ServeArgs),
    /// Serve the local language model over OpenAI's chat API, for web tiers elsewhere (generation.url).
    ServeModel(commands::serve_model::ServeModelArgs),
    /// Run ingestion jobs from the shared job queue (catalog.url), beside other workers and web replicas.
    Worker(commands::worker::WorkerArgs),
    /// Manage local accounts (auth.mode = "accounts"): create the first administrator, set passwords.
    #[command(subcommand)]
    Admin(commands::admin::AdminCommand),
    /// The audit log: who searched, asked, opened and administered what.
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// API tokens for programs (auth.mode = "accounts"): create, list, revoke.
    #[command(subcommand)]
    Token(commands::token::TokenCommand),
    /// Show what is indexed, per source; --check verifies that the stores agree.
    Status(commands::status::StatusArgs),
    /// Measure quality on labelled data and print the numbers.
    #[command(subcommand)]
    Eval(commands::eval::EvalCommand),
    /// Measure performance and print the numbers.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init();
    let overrides = Overrides { data_dir: cli.data_dir, models_dir: cli.models_dir };
    let config = match Config::load(cli.config.as_deref(), &overrides) {
        Ok(config) => config,
        Err(e) => return terminal::fail(&anyhow::Error::new(e)),
    };
    // Before the runtime's threads exist (see configure_process). A benchmark's --threads wins.
    let threads = match &cli.command {
        Command::Bench(commands::bench::BenchCommand::Generate(args)) => args.threads,
        _ => None,
    };
    lore_llm::mistral::configure_process(
        threads.unwrap_or_else(|| config.generation_threads()),
        config.generation.weights,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lore-async")
        .build()
        .expect("the async runtime starts");
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Ingest(args) => commands::ingest::run(config, args).await,
            Command::Search(args) => commands::search::run(config, args).await,
            Command::Ask(args) => commands::ask::run_ask(config, args).await,
            Command::Chat(args) => commands::ask::run_chat(config, args).await,
            Command::Serve(args) => commands::serve::run(config, args).await,
            Command::ServeModel(args) => commands::serve_model::run(config, args).await,
            Command::Worker(args) => commands::worker::run(config, args).await,
            Command::Status(args) => commands::status::run(config, args).await,
            Command::Admin(command) => commands::admin::run(config, command).await,
            Command::Token(command) => commands::token::run(config, command).await,
            Command::Audit(command) => commands::audit::run(config, command).await,
            Command::Eval(command) => commands::eval::run(config, command).await,
            Command::Bench(command) => commands::bench::run(config, command).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => terminal::fail(&e),
    }
}
