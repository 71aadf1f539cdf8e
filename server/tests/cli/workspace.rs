//! The harness every CLI test uses.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// A data directory, a folder of documents, and the `lore` binary pointed at both.
pub struct Workspace {
    pub dir: TempDir,
    pub docs: PathBuf,
}

impl Workspace {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let docs = dir.path().join("company-docs");
        std::fs::create_dir_all(&docs).unwrap();
        Self { dir, docs }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn write(&self, relative: &str, bytes: impl AsRef<[u8]>) {
        let path = self.docs.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// `lore --data-dir <data> ARGS`, run from an unrelated working directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lore"));
        command
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .current_dir(self.dir.path())
            .env("LORE_MODELS_DIR", lore_testkit::models_dir())
            .env("LORE_GENERATION__MODEL", lore_testkit::language_model())
            .stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("lore runs")
    }

    pub fn run_ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(out.status.success(), "lore {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        out
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.run_ok(args);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("lore {args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
    }

    pub fn status(&self) -> Value {
        self.json(&["status", "--json"])
    }

    pub fn docs_path(&self) -> &str {
        self.docs.to_str().unwrap()
    }
}

/// The shared SQuAD v2 evaluation file (`../shared/eval/` beside the repository, or `LORE_SHARED_DIR`).
pub fn squad_file() -> PathBuf {
    let shared = std::env::var_os("LORE_SHARED_DIR").map(PathBuf::from).unwrap_or_else(|| {
        lore_testkit::workspace_root().parent().expect("the repository has a parent").join("shared")
    });
    let file = shared.join("eval").join("squad2-dev-public.json");
    assert!(file.is_file(), "{} is missing: set LORE_SHARED_DIR to the folder holding eval/", file.display());
    file
}

/// The child's exit status, or a failure (after killing it) if it is still running after `timeout`:
/// a process that ignores Ctrl-C must fail the test, not hang the suite.
pub fn exits_within(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not stop within {timeout:?} of the signal");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls `done` every 100 ms; fails the test with `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn kill(child: &Child, signal: &str) {
    let status = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}
