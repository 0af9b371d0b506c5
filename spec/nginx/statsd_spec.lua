-- statsd aggregation (metrics.statsd): what record() gathers comes out of drain() as Eru's
-- lines, in datagrams of at most 1400 bytes, each line whole.
local statsd = require("metrics.statsd")

local function lines(datagrams)
  local out = {}
  for _, d in ipairs(datagrams) do
    assert.is_true(#d <= 1400, "a datagram of " .. #d .. " bytes")
    for l in d:gmatch("[^\n]+") do out[#out + 1] = l end
  end
  return out
end

local function count(ls, pattern)
  local n = 0
  for _, l in ipairs(ls) do if l:find(pattern) then n = n + 1 end end
  return n
end

describe("statsd aggregation", function()
  it("sends a name seen once as its total, its status and its cost", function()
    statsd.record("a.test", 200, 1.23456)
    local ls = lines(statsd.drain())
    table.sort(ls)
    assert.same({ "ELB.a_test.cost:1.235|ms", "ELB.a_test.status.200:1|c", "ELB.a_test.total:1|c" }, ls)
    assert.same({}, statsd.drain())
  end)

  it("names a wildcard's lines with wildcard for its *", function()
    statsd.record("*.w.test", 404, 2)
    local ls = lines(statsd.drain())
    table.sort(ls)
    assert.same({ "ELB.wildcard_w_test.cost:2.000|ms", "ELB.wildcard_w_test.status.404:1|c", "ELB.wildcard_w_test.total:1|c" }, ls)
  end)

  it("counts each status and keeps every cost up to 64 per name, then samples them with a rate", function()
    for i = 1, 10 do statsd.record("b.test", i % 3 == 0 and 502 or 200, i) end
    local ls = lines(statsd.drain())
    assert.equals(1, count(ls, "^ELB%.b_test%.total:10|c$"))
    assert.equals(1, count(ls, "^ELB%.b_test%.status%.200:7|c$"))
    assert.equals(1, count(ls, "^ELB%.b_test%.status%.502:3|c$"))
    assert.equals(10, count(ls, "^ELB%.b_test%.cost:%d+%.000|ms$"))
    assert.equals(1, count(ls, "^ELB%.b_test%.cost:10%.000|ms$"))

    for i = 1, 200 do statsd.record("c.test", 200, 5) end
    ls = lines(statsd.drain())
    assert.equals(1, count(ls, "^ELB%.c_test%.total:200|c$"))
    assert.equals(64, count(ls, "^ELB%.c_test%.cost:5%.000|ms|@0%.3200$"))
  end)

  it("fills datagrams up to 1400 bytes without splitting a line", function()
    for i = 1, 500 do statsd.record("d" .. i .. ".spread.example.test", 200 + i % 5, i / 7) end
    local datagrams = statsd.drain()
    assert.is_true(#datagrams > 1)
    local ls = lines(datagrams)
    assert.equals(1500, #ls)
    for _, l in ipairs(ls) do assert.matches("^ELB%.d%d+_spread_example_test%.[%w.]+:[%d.]+|%a+$", l) end
    for i = 1, #datagrams - 1 do
      -- the next datagram's first line would not have fitted
      local first = datagrams[i + 1]:match("^[^\n]+")
      assert.is_true(#datagrams[i] + 1 + #first > 1400)
    end
  end)
end)
