-- Lookups spread over 2,000 visitors (the same pool in every wrk thread),
-- so a process rarely has a copy of the one asked for: the Redis path.
math.randomseed(8)
local hex, pool = "0123456789abcdef", {}
local function digits(n)
  local out = {}
  for i = 1, n do
    local d = math.random(1, 16)
    out[i] = hex:sub(d, d)
  end
  return table.concat(out)
end
for i = 1, 2000 do
  pool[i] = digits(8) .. "-" .. digits(4) .. "-4" .. digits(3) .. "-8" .. digits(3) .. "-" .. digits(12)
end
math.randomseed(os.time())

request = function()
  return wrk.format("GET", "/api/v1/sites/demo/decisions/" .. pool[math.random(1, #pool)])
end
