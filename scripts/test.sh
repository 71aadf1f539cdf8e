#!/usr/bin/env bash
# Runs every test on real components (ONNX embedder, tantivy, Qdrant Edge, SQLite), after installing
# what they need. Extra arguments go to `cargo test` (e.g. a test name). Ends with one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export LORE_MODELS_DIR="${LORE_MODELS_DIR:-$PWD/models}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --all-targets "$@" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 2; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
