-- wrk script for bench/ingest_http.py: POST /v1/events with {"batch": [N events]}, every event id unique.
--
--   wrk -t1 -c16 -d20s -s bench/ingest_http.lua URL/v1/events -- TOKEN BATCH ACCOUNTS RUN
--
-- ACCOUNTS is a comma-separated list of account ids; RUN (below 4096) tells runs apart. An event id is
--   RRRRRRRR-TTTT-4UUU-8III-NNNNNNNNNNNN
-- R random, T the wrk thread, U the run, I the index in the batch, N the thread's request counter: no two
-- events share an id, T-U and N together name the request, and both halves vary from event to event (ClickHouse
-- 18.16 hashes a UUID by one half in uniqExact; ids that share it make uniqExact(event_id) quadratic).
-- The summary is one line starting with WRKJSON: wrk's counters, latency percentiles in microseconds, the
-- requests sent (answered or not) and the responses by HTTP status.

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("thread_id", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

function init(args)
   wrk.method = "POST"
   wrk.headers["Authorization"] = "Bearer " .. args[1]
   wrk.headers["Content-Type"] = "application/json"
   batch = tonumber(args[2])
   accounts = {}
   for account in string.gmatch(args[3], "[^,]+") do
      table.insert(accounts, account)
   end
   run = tonumber(args[4])
   math.randomseed(run * 65536 + thread_id)
   sent = 0
   statuses = {}
end

function request()
   sent = sent + 1
   local parts = {}
   for i = 1, batch do
      local seq = sent * batch + i
      parts[i] = string.format(
         '{"event_id":"%04x%04x-%04x-4%03x-8%03x-%012x","account":"%s","name":"report.viewed",' ..
         '"properties":{"path":"/reports/%d","ms":%d}}',
         math.random(0, 65535), math.random(0, 65535), thread_id, run, i, sent, accounts[seq % #accounts + 1],
         i, seq % 997)
   end
   return wrk.format(nil, nil, nil, '{"batch":[' .. table.concat(parts, ",") .. ']}')
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local by_status = {}
   local sent_total = 0
   for _, thread in ipairs(threads) do
      sent_total = sent_total + thread:get("sent")
      for status, count in pairs(thread:get("statuses")) do
         by_status[status] = (by_status[status] or 0) + count
      end
   end
   local parts = {}
   for status, count in pairs(by_status) do
      table.insert(parts, string.format('"%d":%d', status, count))
   end
   local e = summary.errors
   io.write(string.format(
      'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
      '"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d,"sent":%d,"statuses":{%s}}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max, sent_total,
      table.concat(parts, ",")))
end
