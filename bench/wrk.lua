-- wrk script of the gateway benchmarks (bench/wrk.py): POSTs one GraphQL request (a JSON file) on every connection,
-- checks every answer byte for byte against a reference answer (a file the benchmark wrote after checking it against
-- the expected data), and prints one machine-readable line at the end:
--   BENCH {"requests":N,"duration_us":N,"bytes":N,"status_errors":N,"mismatched":N,"connect_errors":N,...,
--          "latency_us":{"p50":N,"p90":N,"p95":N,"p99":N,"max":N,"mean":N}}
-- Usage: wrk -s wrk.lua URL -- BODY_FILE EXPECTED_FILE
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local function slurp(path)
  local handle = assert(io.open(path, "rb"))
  local text = handle:read("*a")
  handle:close()
  return text
end

function init(args)
  wrk.method = "POST"
  wrk.body = slurp(args[1])
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
  expected = slurp(args[2])
  status_errors = 0
  mismatched = 0
end

function response(status, headers, body)
  if status ~= 200 then
    status_errors = status_errors + 1
  elseif body ~= expected then
    mismatched = mismatched + 1
  end
end

function done(summary, latency, requests)
  local status_errors, mismatched = 0, 0
  for _, thread in ipairs(threads) do
    status_errors = status_errors + thread:get("status_errors")
    mismatched = mismatched + thread:get("mismatched")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"bytes":%d,"status_errors":%d,"mismatched":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"non_2xx_3xx":%d,' ..
    '"latency_us":{"p50":%d,"p90":%d,"p95":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes, status_errors, mismatched,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
