-- POST pre-signed decisions, each to its own case, each exactly once.
-- usage: wrk -s wrk_decisions.lua ... -- DATA_PREFIX
-- Thread t reads DATA_PREFIX-<t>.txt: one "PATH<TAB>BODY" line per request, its own
-- partition of the envelopes. A thread that runs out stops sending and says so in
-- done(), because replaying an envelope would measure the 409 path instead.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local paths, bodies
local n = 0
exhausted = 0

function init(args)
  paths, bodies = {}, {}
  for line in io.lines(args[1] .. "-" .. tid .. ".txt") do
    local tab = line:find("\t", 1, true)
    table.insert(paths, line:sub(1, tab - 1))
    table.insert(bodies, line:sub(tab + 1))
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  if n > #paths then
    exhausted = 1
    wrk.thread:stop()
    n = #paths
  end
  return wrk.format(nil, paths[n], nil, bodies[n])
end

function done(summary, latency, requests)
  local out = 0
  for _, thread in ipairs(threads) do
    out = out + (thread:get("exhausted") or 0)
  end
  if out > 0 then
    io.write(string.format("BENCH %d thread(s) ran out of envelopes\n", out))
  end
end
