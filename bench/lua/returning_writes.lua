-- Later writes of stored visitors (written first by first_writes.lua), each
-- with its token, changing the choice: visitors 1..count in turn, so no two
-- requests in flight touch one visitor (wrk -t1 ... -- count [path]). The
-- path defaults to the consent API; the bare-UPDATE baseline takes the same body.
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local visitors = require("visitors")
local n, count, round, path = 0, 0, 0, nil
local headers = {["Content-Type"] = "application/json"}

function init(args)
  count, path = tonumber(args[1]), args[2] or "/api/v1/sites/demo/consents"
end

function request()
  n = n + 1
  if n > count then
    n, round = 1, round + 1
  end
  return wrk.format("POST", path, headers, visitors.choice(n, (n + round) % 2 == 1))
end
