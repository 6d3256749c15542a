-- What the wrk scripts of bench/ share: the stored visitors' ids and tokens.
-- Visitor n (1 <= n <= count) is 00000000-0000-4000-8000-<n, 12 digits>; its
-- first write (first_writes.lua) proposes the token "bench-token-<n, 24 digits>" (32 characters),
-- so later writes can carry it without reading any answer.
local visitors = {}

function visitors.id(n)
  return string.format("00000000-0000-4000-8000-%012d", n)
end

function visitors.token(n)
  return string.format("bench-token-%024d", n)
end

function visitors.choice(n, analytics)
  local token = '"token":"' .. visitors.token(n) .. '",'
  return '{"visitor_id":"' .. visitors.id(n) .. '",' .. token
    .. '"choices":{"analytics":' .. tostring(analytics) .. ',"advertising":false,"recognition":false},'
    .. '"policy_version":"1","banner_version":"1.1.0","language":"en"}'
end

return visitors
