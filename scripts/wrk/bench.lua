-- wrk script for scripts/bench_wrk.py: replays pre-built requests (one per line of a file, fields separated
-- by tabs: method, path, then header=value pairs), each thread its own share, and prints the figures as one
-- JSON line (p95 included, which wrk's --latency table lacks).
--   wrk -t1 -c32 -d10s -s bench.lua http://127.0.0.1:8000 -- <requests file> <threads>
-- A static request (GET /signals with a bearer token) is one line repeated; signed EA polls are one line
-- each (a fresh nonce per request): when a thread runs out it starts over, and the backend answers those
-- replays 409 (counted in non2xx), so the file holds more lines than the run can send.

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  local file, nthreads = args[1], tonumber(args[2])
  reqs, i = {}, 0
  local n = 0
  for line in io.lines(file) do
    if n % nthreads == id then
      local fields = {}
      for f in line:gmatch("[^\t]+") do fields[#fields + 1] = f end
      local headers = {}
      for k = 3, #fields do
        local name, value = fields[k]:match("^([^=]+)=(.*)$")
        headers[name] = value
      end
      reqs[#reqs + 1] = wrk.format(fields[1], fields[2], headers)
    end
    n = n + 1
  end
end

function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, latency.max))
end
