#!/usr/bin/env bash
# Runs every test on real components (ONNX embedder, tantivy, Qdrant Edge, SQLite), after installing
# what they need. Extra arguments go to `cargo test` (e.g. a test name).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export LORE_MODELS_DIR="${LORE_MODELS_DIR:-$PWD/models}"
cargo test --workspace --locked "$@"
