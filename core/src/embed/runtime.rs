//! Loading the ONNX Runtime shared library once per process.

use std::path::Path;
use std::sync::OnceLock;

use ort::environment::Environment;

use super::{EmbedError, Result};

static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();

/// Loads `libonnxruntime.so` from `path` and creates the process's ONNX Runtime environment, with
/// telemetry off. Later calls return the same environment, whatever path they name.
pub fn init_onnx_runtime(path: &Path) -> Result<Environment> {
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env.clone());
    }
    // `ort` panics instead of returning an error when the library is missing: check first.
    if !path.is_file() {
        return Err(EmbedError::RuntimeMissing(path.to_path_buf()));
    }
    let runtime_err = |reason: String| EmbedError::Runtime { path: path.to_path_buf(), reason };
    let builder = ort::init_from(path).map_err(|e| runtime_err(e.to_string()))?;
    let env = builder.with_name("lore").with_telemetry(false).build().map_err(|e| runtime_err(e.to_string()))?;
    Ok(ENVIRONMENT.get_or_init(|| env).clone())
}
