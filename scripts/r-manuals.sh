#!/usr/bin/env bash
# Fetches the R manuals (Debian package r-doc-pdf, about 3,100 pages of real PDFs) into a cache folder
# without installing anything, and prints that folder. Used by the benchmarks:
#   lore bench ingest "$(scripts/r-manuals.sh)"
#   lore bench search --text "$(scripts/r-manuals.sh)" --chunks 100000
set -euo pipefail
dest="${LORE_R_MANUALS:-$HOME/.cache/lore/r-manuals}"
if [ ! -f "$dest/.done" ]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && apt-get download r-doc-pdf >&2)
    dpkg-deb -x "$work"/r-doc-pdf_*.deb "$work/x"
    mkdir -p "$dest"
    # fullrefman.pdf is a copy of refman.pdf: left out so the corpus has no duplicate manual.
    find "$work/x" -name '*.pdf' ! -name 'fullrefman.pdf' -exec cp {} "$dest/" \;
    touch "$dest/.done"
fi
echo "$dest"
