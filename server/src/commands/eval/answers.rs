//! `lore eval answers --squad FILE [--limit N]`: asks every question of a SQuAD v2 file (or an even sample
//! of it, half unanswerable) with the local model, once, and scores the answer with the grounding guard
//! off (as the model wrote it) and on (checked from the same draft), plus the guard's abstention threshold
//! swept over the same answers, which is how `answer.min_evidence` is calibrated.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use lore_answer::{Answer, Answerer, Question, Thresholds};
use lore_core::config::Config;
use lore_eval::qa::{contains_gold, QaOutcome, QaQuestion, QaReport, QaSet};
use lore_retrieve::{Access, Retriever};
use serde::Serialize;
use serde_json::json;

use super::{build_index, query_bar};
use lore_engine as engine;

#[derive(Args)]
pub struct AnswersArgs {
    /// SQuAD v2 JSON file: each paragraph is a document; answerable questions have gold answers,
    /// unanswerable ones should be declined.
    #[arg(long, value_name = "FILE")]
    pub squad: PathBuf,
    /// Ask only N questions: half answerable, half not, spread over the whole file.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Also write one JSON line per question to FILE: the question, its gold answers, the model's draft,
    /// the checked answer and why it abstained, for reading what the numbers summarise. The check there
    /// is the guard without the evidence threshold: compare `evidence` with answer.min_evidence.
    #[arg(long, value_name = "FILE")]
    pub transcript: Option<PathBuf>,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Abstention thresholds the report re-scores the guarded answers with.
const EVIDENCE_SWEEP: [f32; 13] = [0.0, 0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85];
const RELEVANCE_SWEEP: [f32; 10] = [0.0, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65];

#[derive(Serialize)]
struct SweepPoint {
    min_evidence: f32,
    min_source_relevance: f32,
    #[serde(flatten)]
    report: QaReport,
}

/// One question's two answers: as the model wrote it, and checked with no thresholds (they are applied
/// when scoring, so that every threshold scores the same answers).
struct Asked {
    question: QaQuestion,
    unguarded: Answer,
    guarded: Answer,
}

pub async fn run(config: Config, args: AnswersArgs) -> anyhow::Result<ExitCode> {
    let mut set = QaSet::from_squad(&args.squad)?;
    if let Some(limit) = args.limit {
        set.sample(limit);
    }
    let built = build_index(&config, &set.documents, &args.squad, set.questions.len()).await?;
    let stores = built.syncer.stores();
    let retriever = Retriever::new(
        stores.text.clone(),
        stores.vectors.clone(),
        built.syncer.embedder().clone(),
        config.retrieval.clone(),
    );
    let model = engine::load_language_model(&config).await?;
    let model_name = model.name().to_string();
    let answerer = Answerer::new(
        retriever,
        model,
        built.syncer.embedder().clone(),
        config.answer.clone(),
        engine::sampling(&config),
    );

    let bar = query_bar(set.questions.len(), "answering");
    let mut asked = Vec::with_capacity(set.questions.len());
    for question in &set.questions {
        let mut ask = Question::new(question.text.clone(), Access::Unrestricted);
        ask.guard = Some(false);
        let unguarded = answerer.ask(ask, None).await.with_context(|| format!("cannot answer {:?}", question.text))?;
        let unthresholded = Thresholds { min_evidence: 0.0, min_source_relevance: 0.0 };
        let guarded = answerer.apply_guard(&unguarded, unthresholded).await?;
        asked.push(Asked { question: question.clone(), unguarded, guarded });
        bar.inc(1);
    }
    bar.finish_and_clear();
    if let Some(path) = &args.transcript {
        write_transcript(path, &asked).with_context(|| format!("cannot write {}", path.display()))?;
    }

    let configured = Thresholds {
        min_evidence: config.answer.min_evidence,
        min_source_relevance: config.answer.min_source_relevance,
    };
    let score = |thresholds: Thresholds| {
        QaReport::of(&asked.iter().map(|a| guarded_outcome(a, thresholds, &built.paths)).collect::<Vec<_>>())
    };
    let guard_off = QaReport::of(&asked.iter().map(|a| unguarded_outcome(a, &built.paths)).collect::<Vec<_>>());
    let guard_on = score(configured);
    let point = |thresholds: Thresholds| SweepPoint {
        min_evidence: thresholds.min_evidence,
        min_source_relevance: thresholds.min_source_relevance,
        report: score(thresholds),
    };
    let sweep: Vec<SweepPoint> =
        EVIDENCE_SWEEP.iter().map(|&min_evidence| point(Thresholds { min_evidence, ..configured })).collect();
    let relevance_sweep: Vec<SweepPoint> = RELEVANCE_SWEEP
        .iter()
        .map(|&min_source_relevance| point(Thresholds { min_source_relevance, ..configured }))
        .collect();
    let run = json!({
        "questions": set.questions.len(),
        "documents": set.documents.len(),
        "chunks": built.report.counts.chunks,
        "model": model_name,
        "min_evidence": configured.min_evidence,
        "min_source_relevance": configured.min_source_relevance,
        "context_budget_tokens": config.answer.context_budget_tokens,
        "mean_prompt_tokens": mean(asked.iter().filter(|a| a.unguarded.generation.is_some()).map(|a| a.unguarded.prompt_tokens as f64)),
        // What the model was given to work with, whatever it wrote: a gold answer somewhere in its
        // passages, and in the one sentence shown first.
        "passages_contain_gold": answerable_share(&asked, |a| {
            a.unguarded.passages.iter().any(|p| contains_gold(&p.text, &a.question.answers))
        }),
        "best_evidence_contains_gold": answerable_share(&asked, |a| {
            a.unguarded.best_evidence.as_ref().is_some_and(|b| contains_gold(&b.quote, &a.question.answers))
        }),
        // The cost of checking that facts stand together: right drafts the guard rejected for it.
        "correct_rejected_as_apart": answerable_share(&asked, |a| {
            contains_gold(&a.unguarded.text, &a.question.answers)
                && a.guarded.sentences.iter().any(|s| s.facts_apart && (s.removed || a.guarded.abstained))
        }),
    });
    if args.json {
        let out = json!({
            "guard_on": guard_on,
            "guard_off": guard_off,
            "evidence_sweep": sweep,
            "relevance_sweep": relevance_sweep,
            "run": run,
        });
        println!("{out}");
    } else {
        print_report(&guard_on, &guard_off, &run);
        print_sweep("min_evidence", &sweep, |p| p.min_evidence);
        print_sweep("min_source_relevance", &relevance_sweep, |p| p.min_source_relevance);
    }
    Ok(ExitCode::SUCCESS)
}

fn write_transcript(path: &std::path::Path, asked: &[Asked]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for a in asked {
        let line = json!({
            "question": a.question.text,
            "gold_answers": a.question.answers,
            "answerable": a.question.gold_document.is_some(),
            "evidence": a.guarded.evidence,
            "best_evidence": a.unguarded.best_evidence.as_ref().map(|b| &b.quote),
            "prompt_tokens": a.unguarded.prompt_tokens,
            "draft": a.unguarded.draft,
            "checked": a.guarded.text,
            "abstention": a.guarded.abstention,
            "support": a.guarded.support,
            "source_relevance": a.guarded.source_relevance,
            "confidence": a.unguarded.confidence,
            "question_facts_apart": a.unguarded.question_facts_apart,
            "draft_contains_gold": contains_gold(&a.unguarded.text, &a.question.answers),
            "checked_contains_gold": !a.guarded.abstained && contains_gold(&a.guarded.text, &a.question.answers),
            "passages": a.unguarded.passages.iter().map(|p| json!({"n": p.n, "title": p.title, "text": p.text})).collect::<Vec<_>>(),
        });
        writeln!(out, "{line}")?;
    }
    out.flush()
}

/// Share of the answerable questions for which `test` holds.
fn answerable_share(asked: &[Asked], test: impl Fn(&Asked) -> bool) -> f64 {
    let answerable: Vec<&Asked> = asked.iter().filter(|a| a.question.gold_document.is_some()).collect();
    mean(answerable.iter().map(|a| if test(a) { 1.0 } else { 0.0 }))
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

fn cites(answer: &Answer, gold: Option<&String>, paths: &std::collections::HashMap<String, String>) -> bool {
    gold.is_some_and(|gold| answer.citations.iter().any(|c| paths.get(&c.document_path) == Some(gold)))
}

fn timing(answer: &Answer) -> (Option<f64>, Option<f64>) {
    match &answer.generation {
        Some(g) => (Some(g.time_to_first_token.as_secs_f64() * 1000.0), Some(g.decode_tokens_per_s)),
        None => (None, None),
    }
}

fn unguarded_outcome(asked: &Asked, paths: &std::collections::HashMap<String, String>) -> QaOutcome {
    let answer = &asked.unguarded;
    // The same sentences, judged by the guard's check (which this setting does not act on).
    let judged: Vec<_> = asked.guarded.sentences.iter().filter(|s| s.checkable).collect();
    let (first_token_ms, decode_tokens_per_s) = timing(answer);
    QaOutcome {
        answerable: asked.question.gold_document.is_some(),
        abstained: answer.abstained,
        contains_gold: contains_gold(&answer.text, &asked.question.answers),
        cites_gold: cites(answer, asked.question.gold_document.as_ref(), paths),
        sentences: judged.len(),
        unsupported: judged.iter().filter(|s| !s.supported).count(),
        removed: 0,
        support: asked.guarded.sentences.iter().filter(|s| s.checkable).map(|s| s.support).sum::<f32>()
            / judged.len().max(1) as f32,
        first_token_ms,
        decode_tokens_per_s,
    }
}

fn guarded_outcome(
    asked: &Asked,
    thresholds: Thresholds,
    paths: &std::collections::HashMap<String, String>,
) -> QaOutcome {
    let answer = &asked.guarded;
    let weak = answer.evidence < thresholds.min_evidence;
    let unrelated = thresholds.unrelated_source(answer);
    let (first_token_ms, decode_tokens_per_s) = timing(&asked.unguarded);
    let delivered: Vec<_> = answer.sentences.iter().filter(|s| s.checkable && !s.removed).collect();
    let abstained = weak || unrelated || answer.abstained;
    QaOutcome {
        answerable: asked.question.gold_document.is_some(),
        abstained,
        contains_gold: !abstained && contains_gold(&answer.text, &asked.question.answers),
        cites_gold: !abstained && cites(answer, asked.question.gold_document.as_ref(), paths),
        sentences: if abstained { 0 } else { delivered.len() },
        unsupported: if abstained { 0 } else { delivered.iter().filter(|s| !s.supported).count() },
        removed: if weak { 0 } else { answer.sentences.iter().filter(|s| s.removed).count() },
        support: if abstained { 0.0 } else { answer.support },
        // A weak-evidence abstention skips the model: no first token to wait for.
        first_token_ms: if weak { None } else { first_token_ms },
        decode_tokens_per_s: if weak { None } else { decode_tokens_per_s },
    }
}

fn print_report(on: &QaReport, off: &QaReport, run: &serde_json::Value) {
    println!(
        "lore eval answers: {} questions ({} answerable, {} unanswerable) over {} documents, model {}",
        run["questions"],
        on.answerable,
        on.unanswerable,
        run["documents"],
        run["model"].as_str().unwrap_or("?")
    );
    println!("  {:<34} {:>10} {:>10}", "", "guard on", "guard off");
    let rows: [(&str, f64, f64); 11] = [
        ("answer contains gold (answerable)", on.answer_contains_gold, off.answer_contains_gold),
        ("gold paragraph cited (answerable)", on.gold_citation, off.gold_citation),
        ("gold paragraph cited (answered)", on.gold_citation_answered, off.gold_citation_answered),
        ("abstained (unanswerable)", on.abstention_unanswerable, off.abstention_unanswerable),
        ("abstained (answerable)", on.abstention_answerable, off.abstention_answerable),
        ("unsupported sentences", on.unsupported_sentences, off.unsupported_sentences),
        ("sentences removed", on.removed_sentences, off.removed_sentences),
        ("mean support", on.mean_support, off.mean_support),
        ("time to first token p50 (ms)", on.ttft_p50_ms, off.ttft_p50_ms),
        ("time to first token p95 (ms)", on.ttft_p95_ms, off.ttft_p95_ms),
        ("decode tokens/s", on.decode_tokens_per_s, off.decode_tokens_per_s),
    ];
    for (name, a, b) in rows {
        println!("  {name:<34} {a:>10.3} {b:>10.3}");
    }
    println!(
        "  mean prompt tokens {:.0} (answer.context_budget_tokens = {}); guard on uses answer.min_evidence = {:.2}, \
         answer.min_source_relevance = {:.2}",
        run["mean_prompt_tokens"].as_f64().unwrap_or(0.0),
        run["context_budget_tokens"],
        run["min_evidence"].as_f64().unwrap_or(0.0),
        run["min_source_relevance"].as_f64().unwrap_or(0.0)
    );
    println!(
        "  gold answer in the passages {:.3}, in the best evidence sentence {:.3}; right drafts rejected because \
         their facts stand apart {:.3} (answerable)",
        run["passages_contain_gold"].as_f64().unwrap_or(0.0),
        run["best_evidence_contains_gold"].as_f64().unwrap_or(0.0),
        run["correct_rejected_as_apart"].as_f64().unwrap_or(0.0)
    );
}

/// One threshold swept over the same answers, the other kept as configured.
fn print_sweep(name: &str, sweep: &[SweepPoint], threshold: fn(&SweepPoint) -> f32) {
    println!("  {name} swept (guard on, same answers):");
    println!("    {:>20} {:>10} {:>10} {:>12} {:>12}", name, "gold", "cited", "abstain(u)", "abstain(a)");
    for point in sweep {
        let r = &point.report;
        println!(
            "    {:>20.2} {:>10.3} {:>10.3} {:>12.3} {:>12.3}",
            threshold(point),
            r.answer_contains_gold,
            r.gold_citation,
            r.abstention_unanswerable,
            r.abstention_answerable
        );
    }
}
