-- POST the same body on every request: the no-op POST baseline.
-- usage: wrk -s wrk_post.lua ... -- BODY_FILE
function init(args)
  local f = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  wrk.headers["Content-Type"] = "application/json"
  f:close()
end
