//! `lore ask QUESTION` and `lore chat`: answers from the local model, written only from the passages the
//! asker may read, streamed as they are written, checked, with their sources.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use lore_answer::{Answer, AnswerEvent, Answerer, Question, Turn};
use lore_core::config::Config;
use lore_retrieve::SearchError;
use tokio::sync::mpsc;

use crate::commands::scope::ScopeArgs;
use crate::terminal::Style;
use lore_engine as engine;
use lore_web::schema::{AnswerJson, Detail};

#[derive(Args)]
pub struct AskArgs {
    /// The question, in plain words.
    pub question: String,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Skip the grounding check: the model's answer as written, abstaining only when the model declines.
    #[arg(long)]
    pub no_guard: bool,
    /// Print JSON on stdout instead of streaming the answer.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ChatArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Skip the grounding check.
    #[arg(long)]
    pub no_guard: bool,
}

pub async fn run_ask(config: Config, args: AskArgs) -> anyhow::Result<ExitCode> {
    if args.question.trim().is_empty() {
        return Err(SearchError::EmptyQuery.into());
    }
    let stores = engine::open_existing_stores(&config, "lore ask").await?;
    let answerer = loading("loading the language model", engine::answerer(&config, &stores)).await?;
    let question = question(&args.question, &args.scope, args.no_guard);
    if args.json {
        let answer = answerer.ask(question, None).await.context("cannot answer")?;
        println!("{}", serde_json::to_string(&AnswerJson::new(&answer, Detail::Full)).expect("answers serialise"));
    } else {
        ask_streaming(&answerer, question).await?;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_chat(config: Config, args: ChatArgs) -> anyhow::Result<ExitCode> {
    let stores = engine::open_existing_stores(&config, "lore chat").await?;
    let answerer = loading("loading the language model", engine::answerer(&config, &stores)).await?;
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        eprintln!("Ask a question; follow-ups may refer to earlier answers. An empty line or Ctrl-D ends.");
    }
    let mut history: Vec<Turn> = Vec::new();
    let (lines_tx, mut lines) = mpsc::channel::<String>(1);
    // stdin blocks: it is read on its own thread, a line at a time.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    loop {
        if interactive {
            eprint!("\n> ");
            let _ = std::io::stderr().flush();
        }
        let Some(line) = lines.recv().await else { break };
        let text = line.trim();
        if text.is_empty() {
            break;
        }
        let mut question = question(text, &args.scope, args.no_guard);
        question.history = history.clone();
        match ask_streaming(&answerer, question).await {
            Ok(answer) => history.push(Turn { question: text.to_string(), answer: answer.text }),
            Err(e) => crate::terminal::print_error(&e),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A question as the flags of `lore ask` and `lore chat` scope it.
fn question(text: &str, scope: &ScopeArgs, no_guard: bool) -> Question {
    let mut question = Question::new(text, scope.access());
    question.narrowing = scope.narrowing();
    question.guard = no_guard.then_some(false);
    question
}

/// Awaits `work` behind a spinner on stderr (when it is a terminal).
async fn loading<T>(message: &'static str, work: impl std::future::Future<Output = T>) -> T {
    let spinner = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner().with_message(message);
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let result = work.await;
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    result
}

/// Asks, printing the answer's tokens as they arrive, then the check's verdict and the sources.
async fn ask_streaming(answerer: &Answerer, question: Question) -> anyhow::Result<Answer> {
    let styled = std::io::stdout().is_terminal();
    let Style { bold, dim, reset } = Style::new(styled);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let asking = {
        let answerer = answerer.clone();
        tokio::spawn(async move { answerer.ask(question, Some(events_tx)).await })
    };
    let mut streamed = String::new();
    let mut stdout = std::io::stdout();
    while let Some(event) = events.recv().await {
        match event {
            AnswerEvent::Standalone(query) => eprintln!("{dim}searching for: {query}{reset}"),
            AnswerEvent::Passages(passages) if passages.is_empty() => {}
            AnswerEvent::Passages(passages) => {
                eprintln!("{dim}reading {} passages…{reset}", passages.len());
            }
            // The likeliest answer, from the documents themselves, while the model reads.
            AnswerEvent::Evidence(best) => {
                let place = match best.page {
                    Some(page) => format!("{}, page {page}", best.title),
                    None => best.title.clone(),
                };
                eprintln!("{dim}best evidence [{}] {place}: “{}”{reset}", best.n, best.quote);
            }
            AnswerEvent::Token(piece) => {
                streamed.push_str(&piece);
                let _ = write!(stdout, "{piece}");
                let _ = stdout.flush();
            }
            AnswerEvent::Sentence(_) => {}
            AnswerEvent::Retry => {
                if !streamed.is_empty() {
                    println!();
                }
                streamed.clear();
                eprintln!(
                    "{dim}(nothing of that is supported by the documents; trying again from the best passage){reset}"
                );
            }
        }
    }
    let answer = asking.await.context("the answer task crashed")?.context("cannot answer")?;
    if !streamed.is_empty() {
        println!();
    }
    if answer.abstained {
        if !streamed.is_empty() {
            println!("{dim}(withdrawn: {}){reset}", abstention_note(&answer));
        }
        println!("{bold}{}{reset}", answer.text);
        print_sources("Closest sources", &answer, styled);
        return Ok(answer);
    }
    let removed = answer.sentences.iter().filter(|s| s.removed).count();
    let flagged = answer.sentences.iter().filter(|s| !s.supported && !s.removed).count();
    let kept = || answer.sentences.iter().filter(|s| !s.removed && s.citations != s.cited);
    // The prompt does not ask the model to cite, so most citations are added, not corrected.
    let added = kept().filter(|s| s.cited.is_empty()).count();
    let corrected = kept().filter(|s| !s.cited.is_empty()).count();
    if removed + added + corrected > 0 {
        let mut changes = Vec::new();
        if removed > 0 {
            changes.push(format!("{removed} unsupported sentence(s) removed"));
        }
        if added > 0 {
            changes.push(format!("citations added to {added} sentence(s)"));
        }
        if corrected > 0 {
            changes.push(format!("{corrected} citation(s) corrected"));
        }
        println!("\n{bold}Checked answer{reset} {dim}({}){reset}\n{}", changes.join(", "), answer.text);
    }
    if flagged > 0 {
        println!("{dim}Not supported by the passages:{reset}");
        for sentence in answer.sentences.iter().filter(|s| !s.supported && !s.removed) {
            println!("  ⚠ {}", sentence.text);
        }
    }
    print_citations(&answer, styled);
    let stats = answer.generation.unwrap_or_default();
    eprintln!(
        "{dim}support {:.2} · first token {:.1} s · {} prompt tokens · {:.1} tokens/s{reset}",
        answer.support,
        answer.timings.first_token_ms / 1000.0,
        answer.prompt_tokens,
        stats.decode_tokens_per_s
    );
    Ok(answer)
}

fn abstention_note(answer: &Answer) -> &'static str {
    match answer.abstention {
        Some(lore_answer::Abstention::Unsupported) => "no sentence of it is supported by the passages",
        Some(lore_answer::Abstention::ModelDeclined) => "the model found no answer in the passages",
        Some(lore_answer::Abstention::UnrelatedSource) => "the sentences it came from are about something else",
        _ => "the passages do not cover the question",
    }
}

fn print_citations(answer: &Answer, styled: bool) {
    let Style { bold, dim, reset } = Style::new(styled);
    if answer.citations.is_empty() {
        return;
    }
    println!("\n{bold}Sources{reset}");
    for citation in &answer.citations {
        let page = citation.page.map(|p| format!(", page {p}")).unwrap_or_default();
        println!(
            "[{}] {bold}{}{reset}{page}  {dim}{}:{} · characters {}–{}{reset}",
            citation.n, citation.title, citation.source, citation.document_path, citation.start, citation.end
        );
        println!("    {dim}“{}”{reset}", shorten(&citation.quote, 200));
    }
}

fn print_sources(heading: &str, answer: &Answer, styled: bool) {
    let Style { bold, dim, reset } = Style::new(styled);
    if answer.passages.is_empty() {
        return;
    }
    println!("\n{bold}{heading}{reset}");
    for passage in &answer.passages {
        println!(
            "[{}] {}  {dim}{}:{}{reset}",
            passage.n,
            lore_answer::prompt::label(passage),
            passage.source,
            passage.document_path
        );
    }
}

fn shorten(text: &str, max_chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}
