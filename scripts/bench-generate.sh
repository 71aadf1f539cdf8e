#!/usr/bin/env bash
# `lore bench generate` with llama.cpp beside mistral.rs: builds llama-cpp-python from its PyPI source
# package in a throwaway venv (once; about 10 minutes on 2 cores), then runs the benchmark.
#   scripts/bench-generate.sh --squad ../shared/eval/squad2-dev-public.json [more lore bench generate flags]
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${LORE_CACHE_DIR:-$HOME/.cache/lore}/venv-llama-cpp"
if ! [ -f "$venv/.x86-64-v3" ] || ! "$venv/bin/python" -c 'import llama_cpp' 2>/dev/null; then
  rm -rf "$venv"
  echo "bench-generate: building llama-cpp-python in $venv (once)" >&2
  python3 -m venv "$venv"
  # The same instruction set Lore is built for (.cargo/config.toml: x86-64-v3), not -march=native:
  # a like-for-like comparison, and native builds die with SIGILL on VMs whose CPUID lists AMX that
  # the kernel has not enabled for the process.
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON" \
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir \
    --no-binary=llama-cpp-python llama-cpp-python==0.3.36 >&2
  touch "$venv/.x86-64-v3"
fi
lore="${CARGO_TARGET_DIR:-target}/debug/lore"
exec "$lore" bench generate --llama-cpp-python "$venv/bin/python" "$@"
