//! `lore ingest` and `lore status`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use lore_testkit::docs;
use serde_json::Value;

use crate::workspace::{exits_within, kill, wait_until, Workspace};

pub fn sample_folder(ws: &Workspace) {
    docs::sample_folder(&ws.docs);
}

#[test]
fn ingest_and_status_speak_the_documented_interface() {
    let ws = Workspace::new();
    sample_folder(&ws);
    let report = ws.json(&["ingest", ws.docs_path(), "--source", "handbook", "--json"]);
    assert_eq!(report["counts"]["indexed"], 4, "{report}");
    assert_eq!(report["counts"]["failed"], 1);
    assert_eq!(report["failures"][0]["path"], "broken.pdf");

    let status = ws.status();
    let keys = |v: &Value| {
        let mut keys = v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        keys.sort();
        keys
    };
    assert_eq!(keys(&status), ["chunks", "documents", "failed", "sources"]);
    assert_eq!(keys(&status["sources"][0]), ["chunks", "documents", "failed", "name"]);
    assert_eq!(status["sources"][0]["name"], "handbook");
    assert_eq!((status["documents"].as_u64(), status["failed"].as_u64()), (Some(4), Some(1)));
    assert!(status["chunks"].as_u64().unwrap() >= 5);
    assert_eq!(status["sources"][0]["chunks"], status["chunks"]);

    let check = ws.run(&["status", "--check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    assert!(String::from_utf8_lossy(&check.stdout).contains("check: consistent"));

    // A second run over an unchanged folder reads nothing again.
    let again = ws.json(&["ingest", ws.docs_path(), "--source", "handbook", "--json"]);
    assert_eq!((again["counts"]["indexed"].as_u64(), again["counts"]["unchanged"].as_u64()), (Some(0), Some(5)));

    // LORE_DATA_DIR works like --data-dir, from any working directory.
    let out = Command::new(env!("CARGO_BIN_EXE_lore"))
        .args(["status", "--json"])
        .env("LORE_DATA_DIR", ws.data_dir())
        .current_dir("/")
        .output()
        .unwrap();
    let by_env: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(by_env, status);
}

#[test]
fn human_output_lists_failures_with_reasons() {
    let ws = Workspace::new();
    sample_folder(&ws);
    let out = ws.run_ok(&["ingest", ws.docs_path(), "--quiet"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("source 'company-docs'"), "{text}");
    assert!(text.contains("broken.pdf: not a valid pdf file"), "{text}");
    assert!(text.contains("pages/s"), "{text}");
    let status = String::from_utf8_lossy(&ws.run_ok(&["status", "--failures"]).stdout).to_string();
    assert!(status.contains("company-docs/broken.pdf: not a valid pdf file"), "{status}");
}

#[test]
fn ingest_fails_only_when_it_cannot_run() {
    let ws = Workspace::new();
    let out = ws.run(&["ingest", "/definitely/not/here"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/definitely/not/here does not exist"));

    let out = ws.command(&["ingest", ws.docs_path()]).env("LORE_MODELS_DIR", "/nonexistent-models").output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("scripts/fetch-models.sh"), "the error says how to get the models: {stderr}");
}

fn indexed_documents(ws: &Workspace) -> u64 {
    if !ws.data_dir().join("catalog.sqlite").exists() {
        return 0;
    }
    ws.status()["documents"].as_u64().unwrap_or(0)
}

#[test]
fn kill_9_in_the_middle_of_a_run_leaves_nothing_a_rerun_does_not_repair() {
    let ws = Workspace::new();
    let files: u64 = 60;
    for i in 0..files as usize {
        ws.write(&format!("notes/{i:03}.md"), format!("# Note {i}\n\n{}\n", docs::filler(i, 40)));
    }
    let mut child = ws
        .command(&["ingest", ws.docs_path(), "--quiet"])
        // Frequent commits, so the kill lands between committed and uncommitted work.
        .env("LORE_INGEST__COMMIT_EVERY_CHUNKS", "8")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("some documents are committed", Duration::from_secs(120), || indexed_documents(&ws) >= 3);
    kill(&child, "-KILL");
    child.wait().unwrap();
    let partial = indexed_documents(&ws);
    assert!(partial < files, "the run was killed before it finished ({partial} documents)");

    let report = ws.json(&["ingest", ws.docs_path(), "--json"]);
    assert_eq!(report["counts"]["failed"], 0);
    assert_eq!(report["counts"]["indexed"].as_u64().unwrap() + report["counts"]["unchanged"].as_u64().unwrap(), files);
    let check = ws.json(&["status", "--check", "--json"]);
    assert_eq!(check["consistent"], true, "{check}");
    assert_eq!(check["documents"].as_u64(), Some(files));
    let chunks = check["chunks"].as_u64().unwrap();
    assert_eq!(check["check"]["text_chunks"].as_u64(), Some(chunks), "no duplicates in tantivy");
    assert_eq!(check["check"]["vector_chunks"].as_u64(), Some(chunks), "no duplicates in Qdrant Edge");
}

#[test]
fn watch_keeps_the_index_in_sync_until_ctrl_c() {
    let ws = Workspace::new();
    ws.write("a.md", "# A\n\nFirst note.\n");
    let mut child = ws
        .command(&["ingest", ws.docs_path(), "--watch", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let timeout = Duration::from_secs(60);
    wait_until("the first sync is done", timeout, || indexed_documents(&ws) == 1);
    ws.write("b.md", "# B\n\nSecond note.\n");
    wait_until("the new file is indexed", timeout, || indexed_documents(&ws) == 2);
    std::fs::remove_file(ws.docs.join("a.md")).unwrap();
    wait_until("the deleted file is removed", timeout, || indexed_documents(&ws) == 1);

    kill(&child, "-INT");
    let status = exits_within(&mut child, Duration::from_secs(60));
    assert!(status.success(), "Ctrl-C ends a watch cleanly: {status}");
    assert_eq!(ws.json(&["status", "--check", "--json"])["consistent"], true);
}

#[test]
fn a_second_writer_gets_a_clear_error() {
    let ws = Workspace::new();
    for i in 0..30 {
        ws.write(&format!("{i}.md"), format!("# {i}\n\n{}\n", docs::filler(i, 60)));
    }
    let mut first = ws
        .command(&["ingest", ws.docs_path(), "--watch", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the first writer holds the lock", Duration::from_secs(60), || lock_held(&ws.data_dir()));
    let second = ws.run(&["ingest", ws.docs_path()]);
    // Sent as soon as the lock is taken, while the first writer still loads its model: a Ctrl-C that
    // early must stop it too.
    kill(&first, "-INT");
    let first_status = exits_within(&mut first, Duration::from_secs(60));
    assert!(first_status.success(), "the first writer stops cleanly: {first_status}");
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("is being written by another lore process (lore ingest, pid"), "{stderr}");
}

fn lock_held(data_dir: &Path) -> bool {
    std::fs::read_to_string(data_dir.join("writer.lock")).is_ok_and(|s| s.contains("pid"))
}

/// pypdf's test resources, fetched by `scripts/setup.sh --test`: real PDFs that are encrypted, broken,
/// scanned, or odd in many other ways.
fn pypdf_resources() -> PathBuf {
    let cache = std::env::var_os("LORE_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/lore"));
    let dir = cache.join("fixtures/pypdf-7.1.0/resources");
    assert!(dir.is_dir(), "edge-case PDFs missing in {}: run scripts/setup.sh --test", dir.display());
    dir
}

#[test]
fn real_world_edge_case_pdfs_never_stop_a_run() {
    let ws = Workspace::new();
    let resources = pypdf_resources();
    let out = ws
        .command(&["ingest", resources.to_str().unwrap(), "--json"])
        .env("LORE_INGEST__FILE_TIMEOUT_SECS", "60")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let indexed = report["counts"]["indexed"].as_u64().unwrap();
    let failures = report["failures"].as_array().unwrap();
    assert!(indexed >= 50, "most of pypdf's PDFs have text: {report}");
    let known = ["encrypted PDF", "no text layer", "not a valid pdf file", "pdf parser crashed", "file is empty"];
    for failure in failures {
        let error = failure["error"].as_str().unwrap();
        assert!(known.iter().any(|k| error.starts_with(k)), "unexpected error for {}: {error}", failure["path"]);
    }
    let encrypted = failures.iter().filter(|f| f["error"].as_str().unwrap().starts_with("encrypted PDF")).count();
    assert!(encrypted >= 5, "password-protected PDFs are recognised as such: {failures:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).trim().is_empty(),
        "no panic messages or warnings leak to the terminal"
    );
    assert_eq!(ws.json(&["status", "--check", "--json"])["consistent"], true);
}

#[test]
fn an_acl_change_on_the_command_line_reaches_search_at_once_and_stays() {
    let ws = Workspace::new();
    ws.write("board.md", "# Board minutes\n\nThe board approved the merger with Initech in March.\n");
    let docs = ws.docs_path();
    let hits = |principals: &[&str]| {
        let mut args = vec!["search", "merger initech", "--json"];
        for p in principals {
            args.extend(["-p", p]);
        }
        ws.json(&args)["hits"].as_array().unwrap().len()
    };
    ws.run_ok(&["ingest", docs, "--source", "board", "--quiet"]);
    assert_eq!(hits(&[]), 1);

    let narrowed = ws.json(&["ingest", docs, "--source", "board", "--acl", "group:exec", "--json"]);
    assert_eq!((narrowed["relabeled"].as_u64(), narrowed["counts"]["indexed"].as_u64()), (Some(1), Some(0)));
    assert_eq!(hits(&[]), 0, "a reader outside group:exec no longer finds it");
    assert_eq!(hits(&["group:exec"]), 1);
    let check = ws.json(&["status", "--check", "--json"]);
    assert_eq!(check["consistent"], true, "{check}");

    // Ingesting again without --acl keeps the narrower ACL.
    ws.run_ok(&["ingest", docs, "--source", "board", "--quiet"]);
    assert_eq!(hits(&[]), 0);
    ws.run_ok(&["ingest", docs, "--source", "board", "--acl", "everyone", "--quiet"]);
    assert_eq!(hits(&[]), 1);
}
