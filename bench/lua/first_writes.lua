-- The first write of visitors first..last, each once and in order, through
-- the consent API (wrk -t1 ... -- first last); once all were sent, plain GETs
-- of /healthz until wrk's time is up (wrk cannot stop early).
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local visitors = require("visitors")
local n, last = 0, 0
local headers = {["Content-Type"] = "application/json"}

function init(args)
  n, last = tonumber(args[1]) - 1, tonumber(args[2])
end

function request()
  n = n + 1
  if n > last then
    return wrk.format("GET", "/healthz")
  end
  return wrk.format("POST", "/api/v1/sites/demo/consents", headers, visitors.choice(n, n % 2 == 0))
end
