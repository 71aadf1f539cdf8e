//! `lore eval retrieval`: the JSON interface on SQuAD and on a BEIR folder built from the same data.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::workspace::{squad_file, Workspace};

/// The first `paragraphs` paragraphs (with their questions) of the shared SQuAD file's first article.
fn squad_subset(dir: &Path, paragraphs: usize) -> PathBuf {
    let squad: Value = serde_json::from_str(&std::fs::read_to_string(squad_file()).unwrap()).unwrap();
    let mut article = squad["data"][0].clone();
    let kept: Vec<Value> = article["paragraphs"].as_array().unwrap().iter().take(paragraphs).cloned().collect();
    article["paragraphs"] = Value::Array(kept);
    let path = dir.join("squad-subset.json");
    std::fs::write(&path, json!({"version": "v2.0", "data": [article]}).to_string()).unwrap();
    path
}

const MODES: [&str; 4] = ["bm25", "dense", "hybrid_rrf", "hybrid_convex"];
const METRICS: [&str; 7] = ["recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "p50_ms", "p95_ms"];

fn assert_report(report: &Value) {
    for mode in MODES {
        for metric in METRICS {
            let value = report[mode][metric].as_f64().unwrap_or_else(|| panic!("{mode}.{metric} missing: {report}"));
            if metric.ends_with("_ms") {
                assert!(value > 0.0, "{mode}.{metric} = {value}");
            } else {
                assert!((0.0..=1.0).contains(&value), "{mode}.{metric} = {value}");
            }
        }
        let m = &report[mode];
        assert!(m["recall@1"].as_f64() <= m["recall@5"].as_f64() && m["recall@5"].as_f64() <= m["recall@10"].as_f64());
        // On one article's paragraphs every mode finds most questions' paragraph in its first ten.
        assert!(m["recall@10"].as_f64().unwrap() > 0.6, "{mode}: {m}");
    }
    assert_eq!(report["default"], "hybrid_convex");
}

#[test]
fn eval_retrieval_reports_every_mode_on_squad() {
    let ws = Workspace::new();
    let subset = squad_subset(ws.dir.path(), 12);
    let report = ws.json(&["eval", "retrieval", "--squad", subset.to_str().unwrap(), "--json"]);
    assert_report(&report);
    assert_eq!(report["run"]["documents"], 12);
    assert!(report["run"]["queries"].as_u64().unwrap() > 20);
}

#[test]
fn eval_retrieval_reads_beir_folders() {
    let ws = Workspace::new();
    let squad: Value = serde_json::from_str(&std::fs::read_to_string(squad_subset(ws.dir.path(), 8)).unwrap()).unwrap();
    let beir = ws.dir.path().join("beir");
    std::fs::create_dir_all(beir.join("qrels")).unwrap();
    let mut corpus = std::fs::File::create(beir.join("corpus.jsonl")).unwrap();
    let mut queries = std::fs::File::create(beir.join("queries.jsonl")).unwrap();
    let mut qrels = std::fs::File::create(beir.join("qrels/test.tsv")).unwrap();
    writeln!(qrels, "query-id\tcorpus-id\tscore").unwrap();
    let article = &squad["data"][0];
    for (p, paragraph) in article["paragraphs"].as_array().unwrap().iter().enumerate() {
        writeln!(
            corpus,
            "{}",
            json!({"_id": format!("doc{p}"), "title": article["title"], "text": paragraph["context"]})
        )
        .unwrap();
        for qa in paragraph["qas"].as_array().unwrap().iter().filter(|qa| qa["is_impossible"] == false) {
            writeln!(queries, "{}", json!({"_id": qa["id"], "text": qa["question"]})).unwrap();
            writeln!(qrels, "{}\tdoc{p}\t1", qa["id"].as_str().unwrap()).unwrap();
        }
    }
    drop((corpus, queries, qrels));
    let report = ws.json(&["eval", "retrieval", "--beir", beir.to_str().unwrap(), "--json"]);
    assert_report(&report);
    assert_eq!(report["run"]["indexed_documents"], 8);

    let missing = ws.run(&["eval", "retrieval", "--beir", ws.dir.path().join("nope").to_str().unwrap()]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("corpus.jsonl"), "{missing:?}");
}
