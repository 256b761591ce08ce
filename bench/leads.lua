-- wrk script for bench/capture_throughput.py: POST /v1/leads with a distinct email per request.
--
-- Environment (read once per thread):
--   BENCH_RUN   prefix of the emails, unique per run and side (so no request merges into another)
--   BENCH_AUTH  API key, sent as "Authorization: Bearer <key>" when set
--   BENCH_OUT   file the summary is written to as JSON (statuses, latency, errors)
--   BENCH_IDS   file the lead ids of the 2xx answers are written to, one per line
--
-- Each thread counts the statuses it saw and keeps the lead id of every 2xx answer, so the bench
-- can check afterwards that each accepted lead is really committed.

local threads = {}

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

local prefix, headers, counter

function init(args)
   prefix = os.getenv("BENCH_RUN") or "bench"
   headers = { ["Content-Type"] = "application/json" }
   local key = os.getenv("BENCH_AUTH")
   if key and key ~= "" then
      headers["Authorization"] = "Bearer " .. key
   end
   counter = 0
   statuses = {}   -- globals, so the main thread can read them with thread:get
   ids = {}
   nids = 0
   merged = 0
   samples = {}
   nsamples = 0
end

local BODY = '{"email":"%s-%d-%d@bench.example.com","first_name":"Ada","last_name":"Lovelace",'
   .. '"company":"Analytical Engines","job_title":"Engineer","country":"GB",'
   .. '"consent":{"given":true,"text_version":"2026-01"},'
   .. '"attribution":{"utm_source":"bench","utm_medium":"load","utm_campaign":"throughput"}}'

function request()
   counter = counter + 1
   return wrk.format("POST", "/v1/leads", headers, string.format(BODY, prefix, id, counter))
end

function response(status, _, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   if status >= 200 and status < 300 then
      local lead = string.match(body, '"lead_id"%s*:%s*"([%x%-]+)"')
      if lead then
         nids = nids + 1
         ids[nids] = lead
      end
      if string.find(body, '"merged"%s*:%s*true') then
         merged = merged + 1
      end
   elseif nsamples < 5 then
      nsamples = nsamples + 1
      samples[nsamples] = key .. " " .. string.sub(body, 1, 500)
   end
end

local function json_string(s)
   return '"' .. string.gsub(s, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end) .. '"'
end

function done(summary, latency, requests)
   local all_statuses, all_samples, total_merged = {}, {}, 0
   local ids_file = io.open(os.getenv("BENCH_IDS") or "/dev/null", "w")
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("statuses")) do
         all_statuses[status] = (all_statuses[status] or 0) + count
      end
      for _, sample in ipairs(thread:get("samples")) do
         table.insert(all_samples, json_string(sample))
      end
      total_merged = total_merged + thread:get("merged")
      local thread_ids = thread:get("ids")
      for i = 1, thread:get("nids") do
         ids_file:write(thread_ids[i], "\n")
      end
   end
   ids_file:close()

   local status_parts = {}
   for status, count in pairs(all_statuses) do
      table.insert(status_parts, string.format('"%s":%d', status, count))
   end
   local e = summary.errors
   local out = io.open(os.getenv("BENCH_OUT") or "/dev/stdout", "w")
   out:write(string.format(
      '{"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,'
      .. '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p99_9":%d},'
      .. '"statuses":{%s},"merged":%d,"non_2xx_samples":[%s]}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.min, latency.mean, latency.stdev, latency.max,
      latency:percentile(50), latency:percentile(75), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9),
      table.concat(status_parts, ","), total_merged, table.concat(all_samples, ",")))
   out:close()
end
