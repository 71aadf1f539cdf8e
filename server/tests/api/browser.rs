//! The end-to-end test in a real headless Chromium (web/e2e/browser.mjs, playwright-core driving
//! Debian's `chromium`): search, highlighted results, a streamed answer, its citation, the highlighted
//! passage, live ingest progress on the admin page. Screenshots are kept as test artifacts.

use std::path::PathBuf;
use std::process::Command;

use lore_testkit::docs;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_searches_asks_follows_a_citation_and_watches_an_ingest_in_chromium() {
    let app = spawn_app().await;
    docs::sample_folder(app.docs_path());
    app.add_source("handbook", &[], &[]).await;
    app.wait_until_ready().await;
    let more = app.docs_path().parent().unwrap().join("more-notes");
    for i in 0..30 {
        let path = more.join(format!("{i:02}.md"));
        std::fs::create_dir_all(more.as_path()).unwrap();
        std::fs::write(path, format!("# Note {i}\n\n{}\n", docs::filler(i, 20))).unwrap();
    }
    let artifacts = artifacts_dir();
    let args = [app.url.clone(), artifacts.display().to_string(), more.display().to_string()];
    run_script("browser.mjs", &args).await;
    assert!(artifacts.join("answer.png").is_file() && artifacts.join("document.png").is_file());
    app.stop().await;
}

/// Where the browser scripts leave their screenshots.
pub(crate) fn artifacts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e")
}

/// Runs one of `web/e2e`'s scripts in Debian's Chromium; panics with its output when it fails.
pub(crate) async fn run_script(script: &str, args: &[String]) {
    let e2e = lore_testkit::workspace_root().join("web/e2e");
    assert!(
        e2e.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: run `npm ci --prefix web/e2e` (scripts/setup.sh --test does)"
    );
    let chromium = std::env::var("LORE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        PathBuf::from(&chromium).is_file(),
        "{chromium} is missing: install Debian's chromium (scripts/setup.sh --test)"
    );
    let (script, args) = (script.to_string(), args.to_vec());
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node").current_dir(&e2e).arg(&script).args(&args).output().expect("node runs")
    })
    .await
    .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{stdout}");
    assert!(output.status.success(), "the browser test failed:\n{stdout}\n{stderr}");
}
