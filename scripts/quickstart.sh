#!/usr/bin/env bash
# From a fresh clone to a searchable index: installs models, builds, ingests the sample folder,
# and shows what is indexed. Data goes to ./data (override with LORE_DATA_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The dev profile compiles every dependency at opt-level 3 and shares its build with scripts/test.sh;
# `cargo build --release` builds a fully optimised binary for production.
cargo build --locked
lore="${CARGO_TARGET_DIR:-target}/debug/lore"
"$lore" ingest samples --source samples
"$lore" status --check
