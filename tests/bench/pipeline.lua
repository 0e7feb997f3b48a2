-- wrk script for the SQS pipeline benchmark (tests/bench/pipeline.py): POST /requests with a valid,
-- unique wake/sleep request each time, and keep the id of every accepted request.
--
--   wrk ... -s pipeline.lua URL -- RUN OUT STOPPED_IDS RUNNING_IDS UNMANAGED_ID
--
-- RUN: a prefix for the Idempotency-Keys (they become the request ids: RUN-<thread>-<n>).
-- OUT: done() writes OUT.json (summary, latency percentiles, statuses) and OUT.ids (one accepted
--      request id a line). STOPPED_IDS/RUNNING_IDS: comma-separated managed instances to wake/sleep.
-- UNMANAGED_ID: an instance without AUTOSTOP_ENABLE=true (the consumer refuses it).

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("thread_id", next_id)
  table.insert(threads, thread)
  next_id = next_id + 1
end

local function split(csv)
  local out = {}
  for item in string.gmatch(csv or "", "[^,]+") do
    table.insert(out, item)
  end
  return out
end

function init(args)
  run = args[1]
  out_path = args[2]
  stopped = split(args[3])
  running = split(args[4])
  unmanaged = args[5]
  sent = 0
  accepted = {}
  statuses = {}
  unreadable = 0
end

-- Ten kinds of request in turn: wakes and sleeps of single instances (with and without `until`),
-- by tag, and two the consumer refuses (an unmanaged instance, an instance that does not exist).
local function body(n, key)
  local kind = n % 10
  local pick = function(list) return list[(math.floor(n / 10) % #list) + 1] end
  if kind <= 1 then
    return string.format('{"action":"wake","instanceIds":["%s"],"until":"2099-01-01T00:00:00+09:00","requestedBy":"%s"}', pick(stopped), key)
  elseif kind == 2 then
    return string.format('{"action":"wake","instanceIds":["%s"],"requestedBy":"%s"}', pick(stopped), key)
  elseif kind <= 5 then
    return string.format('{"action":"sleep","instanceIds":["%s"],"requestedBy":"%s"}', pick(running), key)
  elseif kind == 6 then
    return string.format('{"action":"wake","tag":{"key":"Team","value":"bench-a"},"until":"2099-01-01T00:00:00+09:00","requestedBy":"%s"}', key)
  elseif kind == 7 then
    return string.format('{"action":"sleep","tag":{"key":"Team","value":"bench-b"},"requestedBy":"%s"}', key)
  elseif kind == 8 then
    return string.format('{"action":"sleep","instanceIds":["%s"],"requestedBy":"%s"}', unmanaged, key)
  else
    return string.format('{"action":"wake","instanceIds":["i-0000000000000dead"],"requestedBy":"%s"}', key)
  end
end

function request()
  sent = sent + 1
  local key = string.format("%s-%d-%d", run, thread_id, sent)
  local headers = { ["Content-Type"] = "application/json", ["Idempotency-Key"] = key }
  return wrk.format("POST", nil, headers, body(sent + thread_id, key))
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 200 then
    local id = string.match(body, '"requestId":"([^"]+)"')
    if id then
      table.insert(accepted, id)
    else
      unreadable = unreadable + 1
    end
  end
end

function done(summary, latency, requests)
  local path
  local ids = {}
  local merged = {}
  local total_sent, total_unreadable = 0, 0
  for _, thread in ipairs(threads) do
    path = path or thread:get("out_path")
    for _, id in ipairs(thread:get("accepted") or {}) do
      table.insert(ids, id)
    end
    for status, count in pairs(thread:get("statuses") or {}) do
      merged[status] = (merged[status] or 0) + count
    end
    total_sent = total_sent + (thread:get("sent") or 0)
    total_unreadable = total_unreadable + (thread:get("unreadable") or 0)
  end
  local f = assert(io.open(path .. ".ids", "w"))
  for _, id in ipairs(ids) do
    f:write(id, "\n")
  end
  f:close()
  local parts = {}
  for status, count in pairs(merged) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  local e = summary.errors
  local json = string.format(
    '{"duration_us": %d, "requests": %d, "sent": %d, "bytes": %d, "unreadable": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"min": %d, "mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}, ' ..
    '"statuses": {%s}}\n',
    summary.duration, summary.requests, total_sent, summary.bytes, total_unreadable,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(parts, ", "))
  f = assert(io.open(path .. ".json", "w"))
  f:write(json)
  f:close()
end
