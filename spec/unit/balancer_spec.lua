-- The balancing algorithms as compiled Lua, against test/vectors/balancer.json (the same
-- cases test/balancer.test.ts runs under Node).
require("config.json").install()
local cjson = require("cjson")
local vectors = require("support.vectors")
local params = require("core.server-params")
local peer_mod = require("core.balancer.peer")
local hash = require("core.balancer.hash")
local algorithms = require("core.balancer.algorithms").algorithms

local v = vectors("balancer")
local byte = string.byte

local function nul(x)
  if x == cjson.null then return nil end
  return x
end

local function peers_of(spec)
  local out = {}
  for i, s in ipairs(spec) do
    local p = peer_mod.newPeer(s.addr, "127.0.0.1", 1, s.addr, params.parseServerParams(s.params, "", {}))
    p.conns = s.conns or 0
    p.since = s.since or 0
    p.ewma = s.ewma or 0
    out[i] = p
  end
  return out
end

local function expect_shares(counts, picks, share, tolerance)
  local total = 0
  for _, n in pairs(counts) do total = total + n end
  assert.equals(picks, total)
  for addr, want in pairs(share) do
    local got = (counts[addr] or 0) / picks
    assert(math.abs(got - want) <= tolerance * want, addr .. ": " .. got .. " vs " .. want)
  end
end

describe("hash32", function()
  for _, c in ipairs(v.hashes) do
    it("hashes " .. cjson.encode(c.s), function() assert.equals(c.h, hash.hash32(c.s, byte)) end)
  end
end)

describe("pick sequences", function()
  for _, c in ipairs(v.sequences) do
    it(c.name, function()
      local a = algorithms[c.algorithm]
      local st = a.create(peers_of(c.peers), { byteAt = byte, seed = 1 })
      local failed = {}
      for _, f in ipairs(c.failed or {}) do failed[f] = true end
      local function filter(p) return not failed[p.addr] end
      local got = {}
      for i = 1, #c.picks do
        local p = a.pick(st, filter, nil, c.key, c.now or 0)
        got[i] = p and p.addr or cjson.null
      end
      assert.same(c.picks, got)
    end)
  end
end)

describe("distributions", function()
  for _, c in ipairs(v.distributions) do
    it(c.name, function()
      local a = algorithms[c.algorithm]
      local st = a.create(peers_of(c.peers), { byteAt = byte, seed = 1 })
      local counts = {}
      local now = c.now or 0
      for i = 0, c.picks - 1 do
        local p = a.pick(st, nil, nil, c.keys and ("key-" .. i) or nil, now)
        a.started(p)
        a.finished(p, 0.01, now)
        counts[p.addr] = (counts[p.addr] or 0) + 1
      end
      expect_shares(counts, c.picks, c.share, c.tolerance)
    end)
  end
end)

describe("requests that last", function()
  for _, c in ipairs(v.load) do
    it(c.name, function()
      local a = algorithms[c.algorithm]
      local st = a.create(peers_of(c.peers), { byteAt = byte, seed = 1 })
      local in_flight = {}
      local counts = {}
      for t = 0, c.ticks - 1 do
        local left = {}
        for _, r in ipairs(in_flight) do
          if r.finish <= t then a.finished(r.peer, nil, t) else left[#left + 1] = r end
        end
        in_flight = left
        for _ = 1, c.perTick do
          local p = a.pick(st, nil, nil, nil, t)
          a.started(p)
          in_flight[#in_flight + 1] = { finish = t + c.hold[p.addr], peer = p }
          counts[p.addr] = (counts[p.addr] or 0) + 1
        end
      end
      assert.same(c.counts, counts)
    end)
  end
end)

local function ring_of(n, weights, skip)
  local spec = {}
  for i = 0, n - 1 do
    if i ~= skip then
      spec[#spec + 1] = { addr = "10.1.0." .. (i + 1) .. ":80", params = weights and ("weight=" .. weights[i + 1]) or "" }
    end
  end
  return algorithms.chash.create(peers_of(spec), { byteAt = byte, seed = 1 })
end

describe("chash remapping", function()
  for _, c in ipairs(v.remap) do
    it(c.name, function()
      local a = algorithms.chash
      local removed = nul(c.index) or -1
      local before = ring_of(c.servers, c.weights, -1)
      local after, changed
      if c.change == "remove" then
        after = ring_of(c.servers, c.weights, removed)
        changed = "10.1.0." .. (removed + 1) .. ":80"
      else
        after = ring_of(c.servers + 1, c.weights, -1)
        changed = "10.1.0." .. (c.servers + 1) .. ":80"
      end
      local moved = 0
      for i = 0, c.keys - 1 do
        local x = a.pick(before, nil, nil, "key-" .. i, 0).addr
        local y = a.pick(after, nil, nil, "key-" .. i, 0).addr
        if x ~= y then
          moved = moved + 1
          assert.equals(changed, c.change == "remove" and x or y)
        end
      end
      assert(moved / c.keys >= c.minMovedShare, "moved " .. moved)
      assert(moved / c.keys <= c.maxMovedShare, "moved " .. moved)
    end)
  end
end)

describe("ewma under latency", function()
  for _, c in ipairs(v.latency) do
    it(c.name, function()
      local a = algorithms.ewma
      local st = a.create(peers_of(c.peers), { byteAt = byte, seed = c.seed })
      local counts = {}
      local now = 0
      for _ = 1, c.picks do
        local p = a.pick(st, nil, nil, nil, now)
        a.started(p)
        a.finished(p, c.latency[p.addr], now)
        counts[p.addr] = (counts[p.addr] or 0) + 1
        now = now + c.step
      end
      for addr, max in pairs(c.maxShare or {}) do assert((counts[addr] or 0) / c.picks <= max, addr) end
      for addr, min in pairs(c.minShare or {}) do assert((counts[addr] or 0) / c.picks >= min, addr) end
    end)
  end
end)
