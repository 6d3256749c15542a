-- What the wrk scripts of bench/ share: the visitors' tokens and ids.
-- Visitor n (1 <= n <= count) has the token "bench-token-<n, 24 digits>" (32 characters)
-- and the id that token certifies (consent/identity.py: the first 16 bytes of
-- SHA-256 of "cmp-visitor-v1:" and the token, as a version-8 UUID), so a first
-- write proves possession as the banner's does, and later writes can carry the
-- token without reading any answer.
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local sha256 = require("sha256")
local visitors, ids = {}, {}

function visitors.certified_id(token)
  local b = sha256.digest("cmp-visitor-v1:" .. token)
  b[7] = 0x80 + b[7] % 16   -- version 8
  b[9] = 0x80 + b[9] % 64   -- the RFC variant
  local hex = {}
  for i = 1, 16 do
    hex[i] = string.format("%02x", b[i])
  end
  local s = table.concat(hex)
  return s:sub(1, 8) .. "-" .. s:sub(9, 12) .. "-" .. s:sub(13, 16) .. "-" .. s:sub(17, 20) .. "-" .. s:sub(21, 32)
end

function visitors.token(n)
  return string.format("bench-token-%024d", n)
end

function visitors.id(n)
  local id = ids[n]
  if id == nil then
    id = visitors.certified_id(visitors.token(n))
    ids[n] = id
  end
  return id
end

function visitors.choice(n, analytics)
  local token = '"token":"' .. visitors.token(n) .. '",'
  return '{"visitor_id":"' .. visitors.id(n) .. '",' .. token
    .. '"choices":{"analytics":' .. tostring(analytics) .. ',"advertising":false,"recognition":false},'
    .. '"policy_version":"1","banner_version":"1.1.0","language":"en"}'
end

return visitors
