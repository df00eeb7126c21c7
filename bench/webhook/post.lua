-- post.lua — wrk script: POST one AdmissionReview body over and over.
--   WRK_BODY      file holding the body
--   WRK_DELAY_MS  think time per request and connection (0: closed loop, as fast
--                 as the server answers; >0: a fixed, non-saturating load)
-- Prints one line the run script parses: requests, seconds, errors, latency.
local f = assert(io.open(os.getenv("WRK_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0")
if delay_ms > 0 then
	function delay()
		return delay_ms
	end
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"RESULT reqs=%d secs=%.3f errors=%d non2xx=%d p50_us=%d p99_us=%d max_us=%d\n",
		summary.requests, summary.duration / 1e6,
		e.connect + e.read + e.write + e.timeout, e.status,
		latency:percentile(50), latency:percentile(99), latency.max))
end
