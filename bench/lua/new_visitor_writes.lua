-- The first write of a new visitor on every request (wrk -t1 ... -- first):
-- tokens "bench-new-<n, 22 digits>" from n = first up, each with the id it
-- certifies (visitors.lua), apart from the stored visitors. The bare-INSERT
-- baseline takes the same body.
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local visitors = require("visitors")
local n = 0

function init(args)
  n = tonumber(args[1]) - 1
end

function request()
  n = n + 1
  local token = string.format("bench-new-%022d", n)
  local body = '{"visitor_id":"' .. visitors.certified_id(token) .. '","token":"' .. token .. '",'
    .. '"choices":{"analytics":true,"advertising":false,"recognition":false},'
    .. '"policy_version":"1","banner_version":"1.1.0","language":"en"}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
