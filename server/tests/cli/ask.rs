//! `lore ask`, `lore chat` and `lore eval answers` on the smallest real model (SmolLM2-135M). Its answers
//! are weak, so these tests check the interface and the guarantees that hold whatever it writes: citations
//! resolve to exact spans of indexed text, abstention when nothing readable covers the question, no
//! restricted document in anything shown.

use std::io::Write;
use std::process::Stdio;

use serde_json::Value;

use crate::ingest::sample_folder;
use crate::workspace::{squad_file, Workspace};

fn assert_answer_shape(answer: &Value) {
    assert!(answer["answer"].is_string(), "{answer}");
    assert!(answer["abstained"].is_boolean(), "{answer}");
    let support = answer["support"].as_f64().unwrap_or_else(|| panic!("no support in {answer}"));
    assert!((0.0..=1.0).contains(&support), "{answer}");
    for citation in answer["citations"].as_array().unwrap_or_else(|| panic!("no citations in {answer}")) {
        for key in ["n", "document_path", "page", "start", "end"] {
            assert!(citation.get(key).is_some(), "{key} missing from {citation}");
        }
    }
}

/// Every citation's span lies inside an indexed passage of its document, and its quote is the passage's
/// text at that span.
fn assert_citations_resolve(ws: &Workspace, question: &str, answer: &Value, as_whom: &[&str]) {
    let mut search = vec!["search", question, "--json", "-k", "50"];
    search.extend_from_slice(as_whom);
    let hits = ws.json(&search);
    for citation in answer["citations"].as_array().unwrap() {
        let (start, end) = (citation["start"].as_u64().unwrap() as usize, citation["end"].as_u64().unwrap() as usize);
        assert!(start < end, "{citation}");
        let quote = citation["quote"].as_str().unwrap();
        let resolved = hits["hits"].as_array().unwrap().iter().any(|hit| {
            let (hit_start, hit_end) = (hit["start"].as_u64().unwrap() as usize, hit["end"].as_u64().unwrap() as usize);
            hit["document_path"] == citation["document_path"]
                && hit_start <= start
                && end <= hit_end
                && hit["text"].as_str().unwrap().chars().skip(start - hit_start).take(end - start).collect::<String>()
                    == quote
        });
        assert!(resolved, "citation {citation} does not resolve to indexed text: {hits}");
    }
}

#[test]
fn ask_prints_the_documented_json_with_citations_that_resolve() {
    let ws = Workspace::new();
    sample_folder(&ws);
    ws.run_ok(&["ingest", ws.docs_path(), "--source", "handbook", "--quiet"]);

    let question = "On which day does the canteen serve soup?";
    let answer = ws.json(&["ask", question, "--json"]);
    assert_answer_shape(&answer);
    assert_citations_resolve(&ws, question, &answer, &[]);
    if answer["abstained"] == false {
        // A checked answer keeps only sentences a passage supports, each with its citation.
        assert!(!answer["citations"].as_array().unwrap().is_empty(), "{answer}");
        assert!(answer["support"].as_f64().unwrap() > 0.0, "{answer}");
    } else {
        assert!(answer["citations"].as_array().unwrap().is_empty(), "{answer}");
        assert_eq!(answer["support"], 0.0);
    }
    let sources = answer["sources"].as_array().unwrap();
    assert_eq!(sources[0]["document_path"], "notes/lunch.md", "{answer}");

    let unguarded = ws.json(&["ask", question, "--json", "--no-guard"]);
    assert_answer_shape(&unguarded);

    let human = String::from_utf8_lossy(&ws.run_ok(&["ask", question]).stdout).to_string();
    assert!(human.contains("Sources") || human.contains("Closest sources"), "{human}");
    assert!(human.contains("Lunch"), "{human}");
}

#[test]
fn ask_abstains_when_nothing_the_asker_may_read_covers_the_question() {
    let ws = Workspace::new();
    ws.write("salaries.md", "# Salaries\n\nEngineering salary bands are reviewed every spring by the board.\n");
    ws.run_ok(&["ingest", ws.docs_path(), "--source", "hr", "--acl", "hr", "--quiet"]);
    ws.write("../public/lunch.md", "# Lunch\n\nThe canteen serves soup on Wednesdays.\n");
    let public = ws.dir.path().join("public");
    ws.run_ok(&["ingest", public.to_str().unwrap(), "--source", "public", "--quiet"]);

    let question = "When are the engineering salary bands reviewed?";
    let as_anyone = ws.json(&["ask", question, "--json"]);
    assert_answer_shape(&as_anyone);
    assert_eq!(as_anyone["abstained"], true, "{as_anyone}");
    assert!(!as_anyone.to_string().contains("salaries.md"), "a restricted document leaked: {as_anyone}");
    assert!(as_anyone["answer"].as_str().unwrap().contains("don't answer"), "{as_anyone}");

    let as_hr = ws.json(&["ask", question, "--json", "--principal", "hr"]);
    assert_answer_shape(&as_hr);
    assert_eq!(as_hr["sources"][0]["document_path"], "salaries.md", "{as_hr}");
    assert_citations_resolve(&ws, question, &as_hr, &["--principal", "hr"]);

    let unrelated = ws.json(&["ask", "What is the airspeed velocity of an unladen swallow?", "--json"]);
    assert_eq!(
        (unrelated["abstained"].as_bool(), unrelated["abstention"].as_str()),
        (Some(true), Some("weak_evidence"))
    );
}

#[test]
fn bad_questions_get_a_clear_message() {
    let ws = Workspace::new();
    let empty = ws.run(&["ask", "  ", "--json"]);
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("the query is empty"));
    let nothing_indexed = ws.run(&["ask", "anything"]);
    assert!(String::from_utf8_lossy(&nothing_indexed.stderr).contains("run `lore ingest"));
    let missing_model =
        ws.command(&["ask", "anything"]).env("LORE_GENERATION__MODEL", "/nowhere/model.gguf").output().unwrap();
    assert!(!missing_model.status.success());
}

#[test]
fn chat_answers_a_question_and_its_follow_up() {
    let ws = Workspace::new();
    sample_folder(&ws);
    ws.run_ok(&["ingest", ws.docs_path(), "--source", "handbook", "--quiet"]);
    let mut chat =
        ws.command(&["chat"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    chat.stdin
        .take()
        .unwrap()
        .write_all(b"What does the canteen serve on Wednesdays?\nAnd on which day is it?\n")
        .unwrap();
    let out = chat.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let answers = stdout.matches("Sources").count() + stdout.matches("don't answer").count();
    assert!(answers >= 2, "two answers expected:\n{stdout}\n{stderr}");
    // The follow-up was rewritten to stand alone before the search.
    assert!(stderr.contains("searching for:"), "{stderr}");
}

#[test]
fn eval_answers_reports_guard_on_and_off() {
    let ws = Workspace::new();
    let report = ws.json(&["eval", "answers", "--squad", squad_file().to_str().unwrap(), "--limit", "4", "--json"]);
    for setting in ["guard_on", "guard_off"] {
        let r = &report[setting];
        for rate in ["answer_contains_gold", "gold_citation", "abstention_unanswerable", "unsupported_sentences"] {
            let value = r[rate].as_f64().unwrap_or_else(|| panic!("{setting}.{rate} missing: {report}"));
            assert!((0.0..=1.0).contains(&value), "{setting}.{rate} = {value}");
        }
        assert!(r["ttft_p50_ms"].as_f64().is_some() && r["decode_tokens_per_s"].as_f64().is_some(), "{report}");
        assert_eq!((r["answerable"].as_u64(), r["unanswerable"].as_u64()), (Some(2), Some(2)), "{report}");
    }
    // The guard only ever removes: it cannot make more gold answers than the model wrote.
    assert!(
        report["guard_on"]["answer_contains_gold"].as_f64() <= report["guard_off"]["answer_contains_gold"].as_f64()
    );
    assert!(
        report["guard_on"]["unsupported_sentences"].as_f64() <= report["guard_off"]["unsupported_sentences"].as_f64()
    );
}
