-- wrk script for GET /api/search: each request takes the next query from a file (one per line, as
-- `lore bench search --export-queries` writes them) and prints throughput, p50/p95/p99 and errors
-- (non-2xx answers included).
--   wrk -t2 -c50 -d30s -s scripts/wrk-search.lua http://127.0.0.1:8080 -- queries.txt
local queries = {}
local counter = 0

local function encode(text)
  return (text:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  local file = assert(io.open(args[1] or "queries.txt", "r"), "cannot open the query file")
  for line in file:lines() do
    if #line > 0 then table.insert(queries, encode(line)) end
  end
  file:close()
  -- Threads start at different places in the list.
  counter = math.random(#queries)
end

function request()
  counter = counter % #queries + 1
  return wrk.format("GET", "/api/search?q=" .. queries[counter])
end

function done(summary, latency, requests)
  local errors = summary.errors
  local socket_errors = errors.connect + errors.read + errors.write + errors.timeout
  io.write(string.format("requests %d in %.1f s: %.1f requests/s\n", summary.requests,
    summary.duration / 1e6, summary.requests / (summary.duration / 1e6)))
  io.write(string.format("latency p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
  io.write(string.format("errors: %d non-2xx, %d socket (connect %d, read %d, write %d, timeout %d)\n",
    summary.errors.status, socket_errors, errors.connect, errors.read, errors.write, errors.timeout))
end
