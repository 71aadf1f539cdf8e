#!/usr/bin/env bash
# HTTP load benchmark of `lore serve`: GET /api/search with wrk, 50 connections for 30 s, over the
# 100,000-chunk search benchmark corpus (built once by `lore bench search`, synthetic vectors unless
# LORE_BENCH_REAL=1), each request a query of the benchmark's query set, the result cache off; then the
# same with the cache on and filled. Then POST /api/ask beyond the model's capacity: 503s.
#   scripts/bench-http.sh [connections] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
connections="${1:-50}"
seconds="${2:-30}"
lore="${CARGO_TARGET_DIR:-target}/debug/lore"
command -v wrk >/dev/null || { echo "bench-http: install wrk (apt-get install wrk)" >&2; exit 1; }
kind=synthetic
flag=--synthetic-vectors
if [ "${LORE_BENCH_REAL:-0}" = 1 ]; then kind=real; flag=; fi
work="${LORE_BENCH_DIR:-$HOME/.cache/lore/bench-search}"
queries="$work/http-queries-$kind.txt"
"$lore" bench search --text "$(scripts/r-manuals.sh)" --chunks 100000 $flag --queries 2000 \
    --work-dir "$work" --export-queries "$queries" >&2
port="${LORE_BENCH_PORT:-8099}"
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; wait 2>/dev/null' EXIT
# Starts `lore serve` on the corpus with extra settings in the environment; waits until it is ready.
start_server() {
    env "$@" LORE_SERVER__RESYNC_MINUTES=0 "$lore" --data-dir "$work/$kind-100000/data" serve \
        --addr "127.0.0.1:$port" 2>"$work/serve.log" &
    server=$!
    for _ in $(seq 240); do
        curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return
        kill -0 "$server" 2>/dev/null || { tail -n 5 "$work/serve.log" >&2; exit 1; }
        sleep 0.5
    done
    echo "bench-http: the server was not ready within 2 minutes" >&2; exit 1
}
stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; server=; }
load() { wrk -t2 -c"$connections" -d"${seconds}s" -s scripts/wrk-search.lua "http://127.0.0.1:$port" -- "$queries" | tail -n 3; }
# New queries: with the result cache off, every request runs a search (the query set is shorter than
# what the run sends, so with the cache on the second half would be answered from it).
start_server LORE_SERVER__SEARCH_CACHE=0
curl -sf "http://127.0.0.1:$port/api/search?q=warm+up" >/dev/null
echo "== GET /api/search, $connections connections, ${seconds}s, $(wc -l <"$queries") distinct queries, result cache off: every search runs"
load
stop_server
start_server
echo "== the same with the result cache on, after one pass that fills it (not shown)"
load >/dev/null
load
echo "== POST /api/ask, 20 at once (generation.queue = 8): the rest are refused with Retry-After"
for i in $(seq 1 20); do
  curl -s -o /dev/null -D - -X POST -H 'Content-Type: application/json' \
    -d "{\"question\":\"how do I install a package from source, case $i?\"}" \
    "http://127.0.0.1:$port/api/ask" --max-time 2 | awk 'NR==1 {code=$2} tolower($1)=="retry-after:" {retry=$2} END {print code, retry}' &
done | sort | uniq -c
grep -E '^lore_(search|answer_queue|searches)' <(curl -s "http://127.0.0.1:$port/metrics") | grep -v bucket
