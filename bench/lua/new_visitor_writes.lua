-- The first write of a new visitor on every request (wrk -t1 ... -- first):
-- ids 00000000-0000-4000-9000-<n, 12 digits> from n = first up, apart from
-- the stored visitors of visitors.lua. The bare-INSERT baseline takes the same body.
local n = 0

function init(args)
  n = tonumber(args[1]) - 1
end

function request()
  n = n + 1
  local body = '{"visitor_id":"' .. string.format("00000000-0000-4000-9000-%012d", n) .. '",'
    .. '"choices":{"analytics":true,"advertising":false,"recognition":false},'
    .. '"policy_version":"1","banner_version":"1.1.0","language":"en"}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
