#!/usr/bin/env bash
# `lore bench generate` with llama.cpp beside mistral.rs: builds llama-cpp-python from its PyPI source
# package in a throwaway venv (once; about 10 minutes on 2 cores), then runs the benchmark.
#   scripts/bench-generate.sh --squad ../shared/eval/squad2-dev-public.json [more lore bench generate flags]
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${LORE_CACHE_DIR:-$HOME/.cache/lore}/venv-llama-cpp"
if ! "$venv/bin/python" -c 'import llama_cpp' 2>/dev/null; then
  echo "bench-generate: building llama-cpp-python in $venv (once)" >&2
  python3 -m venv "$venv"
  CMAKE_ARGS="-DGGML_NATIVE=ON" "$venv/bin/pip" install --quiet --disable-pip-version-check \
    --no-binary=llama-cpp-python llama-cpp-python==0.3.36 >&2
fi
lore="${CARGO_TARGET_DIR:-target}/debug/lore"
exec "$lore" bench generate --llama-cpp-python "$venv/bin/python" "$@"
