-- The routing cost inside LuaJIT, measured inside nginx (so ngx.re is the real PCRE with JIT):
-- bench/sections/routing.mjs starts a throwaway nginx (one process, no master) whose
-- init_worker timer calls run(opts) and exits. It uses the engine's compiled modules as they
-- are: config.apply fills the worker's view, phases.access makes the decisions.
--
-- A decision here is phases.access.run() with ngx.var and ngx.ctx replaced by plain tables
-- (a timer has no request): it measures the routing logic (Host lookup, the walk of the rule
-- graph, the regexes), not the cost of reading nginx variables through the FFI, which the
-- breakdown section measures with real requests.
local cjson = require("cjson.safe")

local M = {}

local clock = os.clock
local band = bit.band

local function median(xs)
  table.sort(xs)
  local n = #xs
  if n % 2 == 1 then return xs[(n + 1) / 2] end
  return (xs[n / 2] + xs[n / 2 + 1]) / 2
end

-- Runs fn(iterations) `reps` times; returns the median of the per-operation CPU times (ns).
local function bench(reps, iterations, fn)
  fn(math.min(iterations, 10000)) -- warm-up: the JIT compiles the loop
  local per = {}
  for r = 1, reps do
    collectgarbage("collect")
    local t0 = clock()
    fn(iterations)
    per[r] = (clock() - t0) / iterations * 1e9
  end
  return median(per), per
end

function M.run(opts)
  local settings = require("node.settings")
  local err = settings.load()
  if err then error("settings: " .. err) end
  local elb = settings.settings.elbName
  local apply = require("config.apply")
  local view = require("config.view")
  local access = require("phases.access")
  local domains = view.domains

  local function applyKey(key, value)
    return apply.applyKey("/" .. elb .. "/" .. key, value, true)
  end
  assert(applyKey("upstreams/up1/127.0.0.1:9", ""), "upstream up1")
  assert(applyKey("upstreams/up2/127.0.0.1:9", ""), "upstream up2")
  assert(applyKey("rules/" .. opts.domain, opts.ruleset), "the rule set")

  assert(applyKey("rules/" .. opts.v2_domain, opts.v2_ruleset), "the 10-rule set")
  local out = { reps = opts.reps, iterations = opts.iterations }
  local realVar = rawget(ngx, "var")
  local fakeVar = { host = opts.domain, http_user_agent = opts.ua, uri = opts.path }
  rawset(ngx, "var", fakeVar)
  local ok, e = pcall(function()
    -- 1. one decision (4-rule graph, both regexes hit), 1 domain configured
    local run = access.run
    rawset(ngx, "ctx", {})
    run()
    local up = require("phases.request").current().up
    if not up or up.name ~= "up1" then error("the decision did not reach up1: " .. tostring(up and up.name)) end
    if opts.jitv then require("jit.v").start(opts.jitv) end
    out.decision_ns = bench(opts.reps, opts.iterations, function(n)
      for _ = 1, n do
        rawset(ngx, "ctx", {})
        run()
      end
    end)

    if opts.jitv then require("jit.v").off() end
    -- 1b. one decision through the 10-rule graph of the new rule types (every matcher hits)
    local v2Var = { host = opts.v2_domain, http_user_agent = opts.ua, uri = opts.path, http_x_tenant = "acme", cookie_session = "s1234abcd",
      arg_v = "2", remote_addr = "10.1.2.3", scheme = "http" }
    local req = rawget(ngx, "req")
    local realMethod = req.get_method
    req.get_method = function() return "GET" end
    rawset(ngx, "var", v2Var)
    rawset(ngx, "ctx", {})
    run()
    up = require("phases.request").current().up
    if not up or up.name ~= "up1" then error("the 10-rule decision did not reach up1: " .. tostring(up and up.name)) end
    out.decision_v2_ns = bench(opts.reps, opts.iterations, function(n)
      for _ = 1, n do
        rawset(ngx, "ctx", {})
        run()
      end
    end)
    req.get_method = realMethod
    rawset(ngx, "var", fakeVar)
    -- 2. the two regexes alone, as the access phase calls them
    local find = ngx.re.find
    local ua, path = opts.ua, opts.path
    local uaPattern, pathPattern = opts.ua_pattern, opts.path_pattern
    out.regexes_ns = bench(opts.reps, opts.iterations, function(n)
      for _ = 1, n do
        find(ua, uaPattern, "joi")
        find(path, pathPattern, "jo")
      end
    end)

    -- 3. the domain lookup with 1 domain
    local hosts1 = {}
    for i = 1, 1024 do hosts1[i] = opts.domain end
    local lookups = opts.iterations * 10
    local function lookupLoop(hosts, mask)
      return function(n)
        local hit = 0
        for i = 1, n do
          if domains[hosts[band(i, mask) + 1]] then hit = hit + 1 end
        end
        if hit ~= n then error("lookup missed " .. (n - hit)) end
      end
    end
    out.lookup_1_ns = bench(opts.reps, lookups, lookupLoop(hosts1, 1023))
    -- the same for a wildcard: one wildcard domain (*.one.bench.test), Host www.one.bench.test
    assert(applyKey("rules/*.one.bench.test", opts.ruleset), "one wildcard")
    local lookupDomain = view.lookupDomain
    local wild1 = {}
    for i = 1, 1024 do wild1[i] = "www.one.bench.test" end
    out.wildcard_1_ns = bench(opts.reps, lookups, function(k)
      local hit = 0
      for i = 1, k do
        if lookupDomain(wild1[band(i, 1023) + 1]) then hit = hit + 1 end
      end
      if hit ~= k then error("wildcard lookup missed " .. (k - hit)) end
    end)

    -- 4. n domains: applying them to the worker's view, then the lookup and the decision
    -- with hosts picked at random among them
    local n = opts.domains
    local rs = opts.ruleset
    local fmt = opts.domain_fmt
    collectgarbage("collect")
    local m0 = collectgarbage("count")
    local t0 = clock()
    for i = 1, n do
      applyKey("rules/" .. string.format(fmt, i), rs)
    end
    out.apply_s = clock() - t0
    collectgarbage("collect")
    out.view_kb_per_domain = (collectgarbage("count") - m0) / n
    out.domains = n
    local count = 0
    for _ in pairs(domains) do count = count + 1 end
    out.domains_in_view = count
    local size = 1048576 -- 2^20 random hosts: a table far larger than the CPU caches
    local hostsN = {}
    math.randomseed(42)
    for i = 1, size do hostsN[i] = string.format(fmt, math.random(n)) end
    out.lookup_n_ns = bench(opts.reps, lookups, lookupLoop(hostsN, size - 1))
    -- decisions for Hosts picked in turn from `hosts` (size entries)
    local function decisionsOver(hosts)
      return function(k)
        for i = 1, k do
          fakeVar.host = hosts[band(i, size - 1) + 1]
          rawset(ngx, "ctx", {})
          run()
        end
      end
    end
    out.decision_n_ns = bench(opts.reps, opts.iterations, decisionsOver(hostsN))

    -- 5. n wildcard domains (*.d<i>.bench.test, besides the n exact ones): the lookup of a host
    -- one label below a random one (no exact name: the wildcard probes), and of hosts no
    -- wildcard covers (every probe misses, then the default)
    for i = 1, n do
      applyKey("rules/*." .. string.format(fmt, i), rs)
    end
    local hostsW = {}
    for i = 1, size do hostsW[i] = "www." .. string.format(fmt, math.random(n)) end
    local function wildcardLoop(hosts, mask, want)
      return function(k)
        local hit = 0
        for i = 1, k do
          if lookupDomain(hosts[band(i, mask) + 1]) then hit = hit + 1 end
        end
        if hit ~= want(k) then error("wildcard lookup: " .. hit .. " hits of " .. k) end
      end
    end
    out.wildcard_n_ns = bench(opts.reps, lookups, wildcardLoop(hostsW, size - 1, function(k) return k end))
    local hostsMiss = {}
    for i = 1, size do hostsMiss[i] = string.format("www.d%d.elsewhere.test", math.random(n)) end
    out.wildcard_miss_n_ns = bench(opts.reps, lookups, wildcardLoop(hostsMiss, size - 1, function() return 0 end))
    out.wildcard_decision_n_ns = bench(opts.reps, opts.iterations, decisionsOver(hostsW))
  end)
  rawset(ngx, "var", realVar)
  rawset(ngx, "ctx", nil)
  if not ok then error(e, 0) end
  local f = assert(io.open(opts.out, "w"))
  f:write(cjson.encode(out))
  f:close()
end

return M
