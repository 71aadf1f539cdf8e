#!/usr/bin/env bash
# From a fresh clone to answered questions: installs models, builds, ingests the sample folder, shows
# what is indexed, runs a search and asks a question the local model answers from the documents. Data goes to ./data (override with LORE_DATA_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The dev profile compiles every dependency at opt-level 3 and shares its build with scripts/test.sh;
# `cargo build --release` builds a fully optimised binary for production. --workspace --all-targets
# resolves dependency features exactly as the tests do, so the two commands share one build.
cargo build --workspace --all-targets --locked
lore="${CARGO_TARGET_DIR:-target}/debug/lore"
"$lore" ingest samples --source samples
"$lore" status --check
"$lore" search "how do I connect to the VPN from a hotel"
"$lore" ask "Which UDP port does the VPN use?"
