-- A wrk pacing script: every connection waits WRK_DELAY_MS after each response before its
-- next request, so the offered load is about connections / (delay + latency) requests per
-- second whatever the proxy: CPU per request is then compared at (nearly) the same rate.
local pause = tonumber(os.getenv("WRK_DELAY_MS") or "5")
delay = function()
  return pause
end
