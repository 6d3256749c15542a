-- Lookups of visitors 1..count drawn from a Zipf distribution with exponent s
-- (visitor n is asked for in proportion to 1/n^s, as page views are spread
-- over visitors): wrk -t1 ... -- count s [query [path]]; path: the lookup's by default
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local visitors = require("visitors")
local cumulative, count, query, path = {}, 0, "", "/api/v1/sites/demo/decisions/"

function init(args)
  count = tonumber(args[1])
  local s, total = tonumber(args[2]), 0
  query = args[3] or ""
  path = args[4] or path
  for n = 1, count do
    total = total + 1 / n ^ s
    cumulative[n] = total
  end
  for n = 1, count do
    cumulative[n] = cumulative[n] / total
  end
  math.randomseed(os.time())
end

local function draw()
  local u, low, high = math.random(), 1, count
  while low < high do
    local middle = math.floor((low + high) / 2)
    if cumulative[middle] < u then low = middle + 1 else high = middle end
  end
  return low
end

function request()
  return wrk.format("GET", path .. visitors.id(draw()) .. query)
end
