#!/usr/bin/env bash
# From a fresh clone to the site: installs models, builds, ingests the sample folder (PDFs, Markdown, wiki
# pages, text), shows a search in the terminal, then serves the site on http://127.0.0.1:8080 until
# Ctrl-C. Data goes to ./data (override with LORE_DATA_DIR); another address with LORE_SERVER__ADDR.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
python3 scripts/make-sample-pdfs.py samples
# The dev profile compiles every dependency at opt-level 3 and shares its build with scripts/test.sh;
# `cargo build --release` builds a fully optimised binary for production. --workspace --all-targets
# resolves dependency features exactly as the tests do, so the two commands share one build.
cargo build --workspace --all-targets --locked
lore="${CARGO_TARGET_DIR:-target}/debug/lore"
"$lore" ingest samples --source samples
"$lore" status --check
"$lore" search "how do I connect to the VPN from a hotel"
echo
echo "Open http://${LORE_SERVER__ADDR:-127.0.0.1:8080} to search and ask; Sources shows the ingestion."
exec "$lore" serve
