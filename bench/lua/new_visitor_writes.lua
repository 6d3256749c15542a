-- POST a first consent write for a new visitor on every request (wrk -s).
-- Visitor ids are unique per thread and request: 00000000-0000-4000-8<thread>-<counter>.
local counter, thread_id = 0, 0
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  thread_id = id
end

function request()
  counter = counter + 1
  local visitor = string.format("00000000-0000-4000-8%03d-%012d", thread_id, counter)
  local body = '{"visitor_id":"' .. visitor .. '","choices":{"analytics":true,"advertising":false,"recognition":false},'
    .. '"policy_version":"1","banner_version":"1.1.0","language":"en"}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
