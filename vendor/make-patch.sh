#!/usr/bin/env bash
# Regenerates vendor/<crate>.patch: the vendored copy against the pristine crate in cargo's registry
# (`cargo fetch` puts it there), without the `[lints.rust]` lines the vendoring adds to Cargo.toml.
#   vendor/make-patch.sh candle-core 0.10.2
set -euo pipefail
crate="$1" version="$2"
here="$(cd "$(dirname "$0")" && pwd)"
pristine=$(find "${CARGO_HOME:-$HOME/.cargo}"/registry/src -maxdepth 2 -type d -name "$crate-$version" | head -n 1)
[ -n "$pristine" ] || { echo "make-patch: $crate-$version is not in cargo's registry (run cargo fetch)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$pristine" "$work/a"
cp -r "$here/$crate" "$work/b"
rm -f "$work/a/Cargo.lock" "$work/a/.cargo_vcs_info.json"
python3 - "$work/b/Cargo.toml" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
cut = text.find("\n\n# Added with the vendoring")
if cut >= 0:
    text = text[:cut + 1]
open(path, "w").write(text)
PY
cd "$work"
diff -ruN a b | sed -E -e 's#^(---|\+\+\+) ([ab]/[^\t]*)\t.*#\1 \2#' > "$here/$crate.patch" || true
echo "make-patch: wrote vendor/$crate.patch ($(grep -c '^+++' "$here/$crate.patch") files)"
