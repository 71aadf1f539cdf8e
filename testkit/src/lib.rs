//! Test fixtures made from scratch (no binary files in the repository) and the paths of the real models
//! the tests run on.

pub mod docs;
pub mod hostile;
pub mod oidc;
pub mod pdf;
pub mod postgres;

use std::path::{Path, PathBuf};

use lore_core::config::Config;

/// The repository's root folder: the parent of the package under test, which `cargo test` names at
/// run time. The folder compiled into this crate is only the fallback: two checkouts that share a
/// cargo target directory share this crate's build too, and it would point into the other checkout.
pub fn workspace_root() -> PathBuf {
    let package =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    Path::new(&package).parent().expect("every package lives in the workspace's top folder").to_path_buf()
}

/// The models the tests use: `LORE_MODELS_DIR`, else `<repo>/models`. Panics with the command to run
/// when they are missing, rather than letting tests pass without them.
pub fn models_dir() -> PathBuf {
    let dir = std::env::var_os("LORE_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("models"));
    let runtime = dir.join("onnxruntime/libonnxruntime.so");
    let embedder = dir.join("all-MiniLM-L6-v2/model.onnx");
    assert!(
        runtime.is_file() && embedder.is_file(),
        "the test models are missing in {}: run `scripts/fetch-models.sh --test` first",
        dir.display()
    );
    dir
}

/// The smallest chat model (SmolLM2-135M): fast enough to generate in tests, too weak to judge answers by.
pub fn language_model() -> PathBuf {
    let path = models_dir().join("smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(path.is_file(), "{} is missing: run `scripts/fetch-models.sh --test` first", path.display());
    path
}

/// A default configuration on a fresh data directory and the test models.
pub fn config(data_dir: &Path) -> Config {
    let mut config = Config { data_dir: data_dir.to_path_buf(), models_dir: models_dir(), ..Config::default() };
    config.generation.model = Some(language_model());
    config
}

/// Sets a file's modification time to `secs` seconds after the epoch, so tests do not depend on the
/// file system's timestamp resolution to see a change.
pub fn set_mtime(path: &Path, secs: u64) {
    let file = std::fs::File::options().write(true).open(path).expect("fixture file opens");
    file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)).expect("mtime is settable");
}

/// The Python of the virtual environment holding the official OpenAI client, which
/// `scripts/setup.sh --test` installs. Panics with the command to run when it is missing.
pub fn openai_client_python() -> PathBuf {
    let cache = std::env::var_os("LORE_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/lore"));
    let python = cache.join("openai-client/bin/python");
    assert!(python.is_file(), "{} is missing: run `scripts/setup.sh --test` first", python.display());
    python
}
