#!/usr/bin/env bash
# From a fresh clone to a searchable index: installs models, builds, ingests the sample folder,
# and shows what is indexed. Data goes to ./data (override with LORE_DATA_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked
lore="${CARGO_TARGET_DIR:-target}/release/lore"
"$lore" ingest samples --source samples
"$lore" status --check
