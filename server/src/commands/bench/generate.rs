//! `lore bench generate`: prompt reading (prefill) and answer writing (decode) speed of the local model in
//! mistral.rs, and of llama.cpp on the same GGUF file, thread count and prompts, side by side.
//!
//! The prompts are what `lore ask` sends: SQuAD questions with their article's paragraphs as passages,
//! trimmed to the answer budget by the same sentence selection ("typical"), and a longer one with twice
//! the budget ("long"); answers to those are a few words, so a third prompt ("write") asks for a long
//! text from the same passages, which is what the decode rate is read from. Both sides are measured
//! the same way, on the wall clock: time to the first token
//! (prefill rate = prompt tokens / that time), then the decode rate over the tokens after it.

use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use lore_answer::evidence::{HitSentences, Ranking};
use lore_answer::{context, prompt};
use lore_core::config::Config;
use lore_core::{ChunkId, DocumentId, DocumentKind};
use lore_eval::metrics::percentile;
use lore_eval::qa::QaSet;
use lore_llm::mistral::LoadOptions;
use lore_llm::{ChatMessage, ChatModel, MistralModel, Sampling};
use lore_retrieve::snippet::Snippet;
use lore_retrieve::Hit;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::peak_rss_mib;

#[derive(Args)]
pub struct GenerateBenchArgs {
    /// SQuAD v2 JSON file the prompts are made from.
    #[arg(long, value_name = "FILE")]
    pub squad: PathBuf,
    /// GGUF file (default: the configured answer model).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Inference threads for both engines (default: generation.threads, all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Measured runs per prompt (after one warm-up run).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Tokens to write per answer at most.
    #[arg(long, default_value_t = 128)]
    pub max_tokens: usize,
    /// Python with llama-cpp-python installed (scripts/bench-generate.sh makes one); without it only
    /// mistral.rs is measured.
    #[arg(long, value_name = "PYTHON")]
    pub llama_cpp_python: Option<PathBuf>,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Run {
    prompt_tokens: usize,
    answer_tokens: usize,
    ttft_ms: f64,
    prefill_tokens_per_s: f64,
    decode_tokens_per_s: f64,
}

#[derive(Debug, Clone, Serialize)]
struct Summary {
    prompt_tokens: f64,
    ttft_ms_p50: f64,
    prefill_tokens_per_s: f64,
    decode_tokens_per_s: f64,
}

fn summarise(runs: &[Run]) -> Summary {
    let mean = |f: fn(&Run) -> f64| runs.iter().map(f).sum::<f64>() / runs.len().max(1) as f64;
    let ttft: Vec<f64> = runs.iter().map(|r| r.ttft_ms).collect();
    Summary {
        prompt_tokens: mean(|r| r.prompt_tokens as f64),
        ttft_ms_p50: percentile(&ttft, 50.0),
        prefill_tokens_per_s: mean(|r| r.prefill_tokens_per_s),
        decode_tokens_per_s: mean(|r| r.decode_tokens_per_s),
    }
}

#[derive(Deserialize)]
struct LlamaCppReport {
    runs: std::collections::BTreeMap<String, Vec<Run>>,
    peak_rss_mib: f64,
}

/// The prompts: (name, messages). A question whose article has enough text for the long budget.
fn prompts(set: &QaSet, budget_tokens: usize) -> anyhow::Result<Vec<(String, Vec<ChatMessage>)>> {
    let question = set
        .questions
        .iter()
        .find(|q| q.gold_document.is_some())
        .context("the SQuAD file has no answerable question")?;
    let gold = question.gold_document.as_deref().expect("answerable");
    let article = gold.split('-').next().expect("ids are aNNN-pNNNN");
    // The gold paragraph first, then its neighbours, as a search would rank them.
    let mut paragraphs: Vec<_> = set.documents.iter().filter(|d| d.id.starts_with(article)).collect();
    paragraphs.sort_by_key(|d| d.id != gold);
    let hits: Vec<Hit> = paragraphs
        .iter()
        .take(8)
        .enumerate()
        .map(|(i, d)| Hit {
            chunk_id: ChunkId(i as u64),
            document_id: DocumentId(i as i64),
            source: "squad".into(),
            kind: DocumentKind::Markdown,
            document_path: format!("{}.md", d.id),
            title: d.title.clone(),
            page: None,
            heading: None,
            text: d.text.clone(),
            snippet: Snippet::default(),
            score: 1.0 / (i + 1) as f32,
            start: 0,
            end: d.text.chars().count(),
            also_in: Vec::new(),
        })
        .collect();
    // Ranked by words alone (the bench loads no embedder): the prompt's size is what counts here.
    let ranking = Ranking::new(&question.text, None, HitSentences::of(&hits));
    let mut prompts: Vec<(String, Vec<ChatMessage>)> = [("typical", budget_tokens), ("long", budget_tokens * 2)]
        .into_iter()
        .map(|(name, budget)| {
            let passages = context::select(&hits, &ranking, budget);
            (name.to_string(), prompt::messages(&passages, &question.text))
        })
        .collect();
    // Answers to `lore ask`'s prompt are a few words, too few to time writing: this one asks for a
    // long text from the same passages, for the decode column.
    let passages = context::select(&hits, &ranking, budget_tokens);
    let text: Vec<&str> = passages.iter().map(|p| p.text.as_str()).collect();
    prompts.push((
        "write".to_string(),
        vec![
            ChatMessage::system(
                "Retell the text the user gives in your own words, in detail, in at least ten sentences.",
            ),
            ChatMessage::user(text.join("\n\n")),
        ],
    ));
    Ok(prompts)
}

async fn mistral_runs(
    model: &MistralModel,
    messages: &[ChatMessage],
    runs: usize,
    max_tokens: usize,
) -> anyhow::Result<Vec<Run>> {
    let sampling = Sampling::greedy(max_tokens);
    let mut measured = Vec::new();
    for run in 0..=runs {
        let started = Instant::now();
        let (_, stats) = model.generate(messages.to_vec(), sampling.clone()).await?.collect().await?;
        let ttft = stats.time_to_first_token.as_secs_f64();
        if run > 0 {
            measured.push(Run {
                prompt_tokens: stats.prompt_tokens,
                answer_tokens: stats.answer_tokens,
                ttft_ms: ttft * 1000.0,
                prefill_tokens_per_s: if ttft > 0.0 { stats.prompt_tokens as f64 / ttft } else { 0.0 },
                decode_tokens_per_s: stats.decode_tokens_per_s,
            });
        }
        tracing::debug!(run, secs = started.elapsed().as_secs_f64(), "generation measured");
    }
    Ok(measured)
}

async fn llama_cpp_runs(
    python: &PathBuf,
    model: &PathBuf,
    threads: usize,
    context_tokens: usize,
    args: &GenerateBenchArgs,
    prompts: &[(String, Vec<ChatMessage>)],
) -> anyhow::Result<LlamaCppReport> {
    let script = lore_script("bench-llama-cpp.py")?;
    let job = json!({
        "model": model,
        "threads": threads,
        "context_tokens": context_tokens,
        "max_tokens": args.max_tokens,
        "runs": args.runs,
        "prompts": prompts.iter().map(|(name, messages)| json!({"name": name, "messages": messages})).collect::<Vec<_>>(),
    });
    let mut child = tokio::process::Command::new(python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot run {}", python.display()))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(job.to_string().as_bytes()).await?;
    drop(stdin);
    let output = child.wait_with_output().await?;
    if !output.status.success() {
        bail!("the llama.cpp benchmark failed ({})", output.status);
    }
    serde_json::from_slice(&output.stdout).context("the llama.cpp benchmark printed no report")
}

/// A script of the repository, found beside the binary's source tree or the working directory.
fn lore_script(name: &str) -> anyhow::Result<PathBuf> {
    let candidates =
        [PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts").join(name), PathBuf::from("scripts").join(name)];
    candidates.into_iter().find(|p| p.is_file()).with_context(|| format!("scripts/{name} not found"))
}

pub async fn run(config: Config, args: GenerateBenchArgs) -> anyhow::Result<ExitCode> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let set = QaSet::from_squad(&args.squad)?;
    let prompts = prompts(&set, config.answer.context_budget_tokens)?;
    let mut options = LoadOptions::from_config(&config);
    if let Some(model) = &args.model {
        options.path = model.clone();
    }
    if let Some(threads) = args.threads {
        options.threads = threads;
    }
    let (model_path, threads, context_tokens) = (options.path.clone(), options.threads, options.context_tokens);
    eprintln!("mistral.rs: {} on {threads} threads", model_path.display());
    let loading = Instant::now();
    let model = MistralModel::load(options).await?;
    let load_s = loading.elapsed().as_secs_f64();
    let mut mistral = std::collections::BTreeMap::new();
    for (name, messages) in &prompts {
        mistral.insert(name.clone(), mistral_runs(&model, messages, args.runs, args.max_tokens).await?);
    }
    let mistral_rss = peak_rss_mib();
    drop(model);

    let llama = match &args.llama_cpp_python {
        Some(python) => {
            eprintln!("llama.cpp: the same file, threads and prompts");
            Some(llama_cpp_runs(python, &model_path, threads, context_tokens, &args, &prompts).await?)
        }
        None => None,
    };

    let rows: Vec<serde_json::Value> = prompts
        .iter()
        .map(|(name, _)| {
            let ours = summarise(&mistral[name]);
            let theirs = llama.as_ref().and_then(|l| l.runs.get(name)).map(|runs| summarise(runs));
            let ratio = |a: f64, b: Option<f64>| b.filter(|b| *b > 0.0).map(|b| a / b);
            json!({
                "prompt": name,
                "mistralrs": ours,
                "llama_cpp": theirs,
                "prefill_ratio": ratio(ours.prefill_tokens_per_s, theirs.as_ref().map(|t| t.prefill_tokens_per_s)),
                "decode_ratio": ratio(ours.decode_tokens_per_s, theirs.as_ref().map(|t| t.decode_tokens_per_s)),
            })
        })
        .collect();
    let report = json!({
        "model": model_path,
        "weights": config.generation.weights,
        "threads": threads,
        "load_s": load_s,
        "runs": args.runs,
        "prompts": rows,
        "mistralrs_peak_rss_mib": mistral_rss,
        "llama_cpp_peak_rss_mib": llama.as_ref().map(|l| l.peak_rss_mib),
    });
    if args.json {
        println!("{report}");
    } else {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &serde_json::Value) {
    println!(
        "lore bench generate: {} ({} weights) on {} threads (loaded in {:.1} s), {} runs per prompt",
        report["model"].as_str().unwrap_or("?"),
        report["weights"].as_str().unwrap_or("?"),
        report["threads"],
        report["load_s"].as_f64().unwrap_or(0.0),
        report["runs"]
    );
    println!(
        "  {:<8} {:>7} | {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9} | {:>7} {:>7}",
        "prompt", "tokens", "ttft ms", "prefill/s", "decode/s", "ttft ms", "prefill/s", "decode/s", "prefill", "decode"
    );
    println!("  {:<16} | {:^29} | {:^29} | {:^15}", "", "mistral.rs", "llama.cpp", "ratio");
    let f = |v: &serde_json::Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.1}"));
    let r = |v: &serde_json::Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.2}x"));
    for row in report["prompts"].as_array().into_iter().flatten() {
        let (m, l) = (&row["mistralrs"], &row["llama_cpp"]);
        println!(
            "  {:<8} {:>7} | {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9} | {:>7} {:>7}",
            row["prompt"].as_str().unwrap_or("?"),
            f(&m["prompt_tokens"]),
            f(&m["ttft_ms_p50"]),
            f(&m["prefill_tokens_per_s"]),
            f(&m["decode_tokens_per_s"]),
            f(&l["ttft_ms_p50"]),
            f(&l["prefill_tokens_per_s"]),
            f(&l["decode_tokens_per_s"]),
            r(&row["prefill_ratio"]),
            r(&row["decode_ratio"]),
        );
    }
    println!(
        "  peak RSS: mistral.rs process {} MiB, llama.cpp process {} MiB",
        f(&report["mistralrs_peak_rss_mib"]),
        f(&report["llama_cpp_peak_rss_mib"])
    );
}
