-- A wrk request generator: every request names one of WRK_DOMAINS domains, picked at random,
-- in its Host header (WRK_DOMAIN_FMT, a string.format pattern with one %d, from 1).
local n = tonumber(os.getenv("WRK_DOMAINS") or "1")
local fmt = os.getenv("WRK_DOMAIN_FMT") or "d%d.bench.test"
local random, format = math.random, string.format
local headers = {}

init = function(args)
  for k, v in pairs(wrk.headers) do headers[k] = v end
  math.randomseed(os.time() * 1000 + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 100000)
end

request = function()
  headers["Host"] = format(fmt, random(n))
  return wrk.format(nil, nil, headers)
end
