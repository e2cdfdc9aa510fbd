-- wrk script for tests/cluster/http-wrk.sh: one element per request, each request to the next of `count` started
-- sequences r{round}w{thread}-{k}, element numbers in order per sequence (request i goes to sequence i % count as
-- element floor(i / count) + 1, so with count well above the connections a sequence never has two requests in
-- flight). Each round steps sequences of its own, from element 1.
--   wrk -s http-wrk.lua URL -- elements|floor COUNT ROUND
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local path, count, round, sent = "sequences", 1000, "1", 0
function init(args)
  if args[1] == "floor" then path = "floor" end
  count = tonumber(args[2] or count)
  round = args[3] or round
end

-- wrk calls request() once while it sets a thread up and drops what it returns, so the first call returns a
-- harmless GET /healthz rather than an element (which would leave its sequence with a gap).
local first = true
function request()
  if first then
    first = false
    return wrk.format("GET", "/healthz")
  end
  local k = sent % count
  local n = math.floor(sent / count) + 1
  sent = sent + 1
  return wrk.format("POST", "/v1/" .. path .. "/r" .. round .. "w" .. tid .. "-" .. k .. "/elements",
    { ["content-type"] = "application/json" }, '{"n":' .. n .. ',"x":[0.5]}')
end

-- The first answer other than 200 of each thread, for the script to show when wrk counts non-2xx answers.
local failed = nil
function response(status, headers, body)
  if status ~= 200 and failed == nil then
    failed = status .. " " .. body
    io.stderr:write("wrk: request " .. sent .. " answered " .. failed .. "\n")
  end
end
