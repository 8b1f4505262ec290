-- POST /v1/escalations with a new idempotency key on every request.
-- usage: wrk -s wrk_ingest.lua ... -- TEMPLATE_FILE... KEY_PREFIX
-- Each template file is a JSON body whose idempotency key is the text @@KEY@@;
-- requests rotate through the templates. Keys are KEY_PREFIX-<thread>-<n>.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local heads, tails, prefix
local n = 0

function init(args)
  heads, tails = {}, {}
  prefix = args[#args] .. "-" .. tid .. "-"
  for i = 1, #args - 1 do
    local f = assert(io.open(args[i], "rb"))
    local body = f:read("*a")
    f:close()
    local at = assert(body:find("@@KEY@@", 1, true), "template has no @@KEY@@")
    heads[i] = body:sub(1, at - 1)
    tails[i] = body:sub(at + 7)
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  local i = n % #heads + 1
  return wrk.format(nil, nil, nil, heads[i] .. prefix .. n .. tails[i])
end
