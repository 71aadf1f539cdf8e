#!/usr/bin/env bash
# Fuzzes each extractor with cargo-fuzz (libFuzzer) for a while; not run by CI.
#   scripts/fuzz.sh            # every target, 180 s each
#   scripts/fuzz.sh pdf 600    # one target, 600 s
# Seeds: the test fixtures' kinds of file (written by `lore_testkit`) and, for PDFs, pypdf's edge-case
# resources (scripts/setup.sh --test fetches them). Crashes land in fuzz/artifacts/<target>/.
# The machine has one stable toolchain: RUSTC_BOOTSTRAP lets it take the sanitizer flags cargo-fuzz sets.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(pdf html markdown docx text)
seconds="${2:-180}"
[ $# -ge 1 ] && targets=("$1")
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${LORE_FUZZ_TARGET_DIR:-$HOME/.cache/lore/fuzz-target}"
fixtures="${LORE_CACHE_DIR:-$HOME/.cache/lore}/fixtures/pypdf-7.1.0/resources"
for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus"
  case "$target" in
    pdf) [ -d "$fixtures" ] && cp -n "$fixtures"/*.pdf "$corpus"/ 2>/dev/null || true ;;
    html) printf '<html><body><main><h1>T</h1><p>x <b>y</b></p><table><tr><td>a</td></tr></table></main></body></html>' > "$corpus/seed.html" ;;
    markdown) printf -- '---\ntitle: T\n---\n# A\n\n> quote\n\n- a\n  - b\n\n| x | y |\n|---|---|\n' > "$corpus/seed.md" ;;
    text) printf 'plain text\nwith lines\n' > "$corpus/seed.txt" ;;
    docx) python3 - "$corpus/seed.docx" <<'PY'
import sys, zipfile
body = ('<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
        '<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Title</w:t></w:r></w:p>'
        '<w:p><w:r><w:t>Some text.</w:t></w:r></w:p>'
        '<w:tbl><w:tr><w:tc><w:p><w:r><w:t>cell</w:t></w:r></w:p></w:tc></w:tr></w:tbl></w:body></w:document>')
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("word/document.xml", body)
PY
      ;;
  esac
  echo "fuzz: $target for ${seconds}s"
  cargo fuzz run --fuzz-dir fuzz -s none --release "$target" "$corpus" -- -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=1048576 -timeout=30
done
