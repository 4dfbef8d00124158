-- wrk script for bench/run.py: cycles requests over the seeded links or rooms, counts non-2xx
-- responses by status and prints one JSON line. It never judges a figure.
--
-- Arguments after `--`:  MODE FILE KEY CLIENTS
--   MODE join: FILE has one join-link secret per line; token: one room id per line;
--        webhook: one signed LiveKit webhook per line, "<Authorization value>\t<body>";
--        webhook-janus: the same for Janus's event handler (basic auth, JSON array)
--   KEY: the application's API key (token mode)
--   CLIENTS: how many client addresses to present in X-Forwarded-For (0: none, all 127.0.0.1)

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("thread_number", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if line ~= "" then
      table.insert(lines, line)
    end
  end
  return lines
end

local mode, items, api_key, clients, next_index, counter

function init(args)
  mode, api_key, clients = args[1], args[3], tonumber(args[4]) or 0
  items = read_lines(args[2])
  -- Threads start at different places so that they do not hit the same rows in lock step.
  next_index = (thread_number * 7919) % #items
  counter = thread_number * 1000000
  statuses = {}
  non2xx = 0
end

-- Each request comes from one of `clients` addresses (10.0.0.0/8), as a proxy would report them.
local function client_headers(headers)
  if clients > 0 then
    local n = counter % clients
    headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  end
  return headers
end

function request()
  next_index = next_index % #items + 1
  counter = counter + 1
  if mode == "webhook" or mode == "webhook-janus" then
    local line = items[next_index]
    local tab = string.find(line, "\t", 1, true)
    local janus = mode == "webhook-janus"
    return wrk.format("POST", janus and "/webhooks/janus" or "/webhooks/livekit", {
      ["Authorization"] = string.sub(line, 1, tab - 1),
      ["Content-Type"] = janus and "application/json" or "application/webhook+json",
    }, string.sub(line, tab + 1))
  end
  if mode == "join" then
    return wrk.format("POST", "/api/v1/join/" .. items[next_index], client_headers({ ["Content-Length"] = "0" }))
  end
  local body = string.format(
    '{"identity":"bench-user-%d","display_name":"Bench User %d","role":"guest"}',
    counter % 5000,
    counter % 5000
  )
  return wrk.format("POST", "/api/v1/rooms/" .. items[next_index] .. "/tokens", client_headers({
    ["Authorization"] = "Api-Key " .. api_key,
    ["Content-Type"] = "application/json",
  }), body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
  end
end

function done(summary, latency, requests)
  local non2xx_total = 0
  local counts = {}
  for _, thread in ipairs(threads) do
    non2xx_total = non2xx_total + thread:get("non2xx")
    for code, count in pairs(thread:get("statuses")) do
      counts[code] = (counts[code] or 0) + count
    end
  end
  local by_status = {}
  for code, count in pairs(counts) do
    table.insert(by_status, string.format('"%s":%d', code, count))
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"non_2xx":%d,"non_2xx_by_status":{%s},'
      .. '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p95":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, non2xx_total, table.concat(by_status, ","),
    errors.connect, errors.read, errors.write, errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean
  ))
end
