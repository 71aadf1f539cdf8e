#!/usr/bin/env bash
# The R manuals (scripts/r-manuals.sh) as N sources of about the same size, for `lore bench workers`:
# the queue runs one job per source, so workers share a corpus by its sources. Manuals longer than
# 400 pages are split with qpdf, then the files are dealt out, longest first, to the source with the
# fewest pages so far. Prints the folder.
#   lore bench workers "$(scripts/workers-corpus.sh 4)"
set -euo pipefail
cd "$(dirname "$0")/.."
sources="${1:-4}"
manuals="$(scripts/r-manuals.sh)"
dest="${LORE_WORKERS_CORPUS:-$HOME/.cache/lore/workers-corpus-$sources}"
if [ ! -f "$dest/.done" ]; then
    command -v qpdf >/dev/null || { echo "workers-corpus: install qpdf (scripts/setup.sh --test does)" >&2; exit 1; }
    rm -rf "$dest"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    for manual in "$manuals"/*.pdf; do
        if [ "$(qpdf --show-npages "$manual")" -gt 400 ]; then
            qpdf --split-pages=400 "$manual" "$work/$(basename "$manual" .pdf)-%d.pdf"
        else
            cp "$manual" "$work/"
        fi
    done
    for file in "$work"/*.pdf; do echo "$(qpdf --show-npages "$file") $file"; done | sort -rn >"$work/pages"
    for n in $(seq 1 "$sources"); do mkdir -p "$dest/source-$n"; echo 0 >"$work/total-$n"; done
    while read -r pages file; do
        smallest=1
        for n in $(seq 1 "$sources"); do
            [ "$(cat "$work/total-$n")" -lt "$(cat "$work/total-$smallest")" ] && smallest=$n
        done
        mv "$file" "$dest/source-$smallest/"
        echo $(( $(cat "$work/total-$smallest") + pages )) >"$work/total-$smallest"
    done <"$work/pages"
    touch "$dest/.done"
fi
echo "$dest"
