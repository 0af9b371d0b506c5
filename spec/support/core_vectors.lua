-- The compiled core (build/lua/core) against the shared vectors (test/vectors), the same
-- cases vitest runs against the TypeScript. Loaded by spec/unit (plain LuaJIT, regexes checked
-- by libpcre through the FFI) and by spec/nginx (regexes checked by ngx.re, as the engine does).
local json = require("config.json")
json.install()
local cjson = require("cjson")
local vectors = require("support.vectors")
local ruleset = require("core.ruleset")
local params = require("core.server-params")
local address = require("core.address")
local names = require("core.names")
local problems_mod = require("core.problems")
local rr = require("core.balancer.algorithms").algorithms.roundrobin
local kinds = require("core.kinds.index")
local plan = require("core.kinds.plan")
local cidr = require("core.cidr")
local bucket = require("core.rules.bucket")
local choose = require("core.rules.choose")
local lint = require("core.rules.regex-lint")
local split = require("core.rules.split")
local node_mod = require("core.rules.node")
local graph = require("core.rules.graph")

local function nul(v)
  if v == cjson.null then return nil end
  return v
end

-- busted gives describe/it/assert to the spec file only: the spec passes them in.
return function(regex_check, busted)
local describe, it, assert = busted.describe, busted.it, busted.assert

-- the engine's host, with the regex check of the runtime the specs run in
require("core.host").useHost({
  decodeJson = function(text)
    local value, err = json.decode(text)
    return { value = value, error = err }
  end,
  encodeJson = json.encode,
  checkRegex = regex_check,
})

local function kindById(id)
  for _, k in ipairs(kinds.KINDS) do
    if k.id == id then return k end
  end
end

describe("etcd keys", function()
  for _, c in ipairs(vectors("kinds").keys) do
    it("parses " .. c.key, function()
      local ref = kinds.parseKey("ELB", c.key)
      if c.kind == cjson.null then
        assert.is_nil(ref)
      else
        assert.same({ kind = c.kind, name = c.name, member = c.member }, { kind = ref.kind.id, name = ref.name, member = ref.member })
      end
    end)
  end
end)

describe("the check of a stored value", function()
  for _, c in ipairs(vectors("kinds").stored) do
    it(c.key .. " = " .. c.value, function()
      local problems = kinds.checkStored("ELB", c.key, c.value)
      if type(c.errors) == "string" then
        assert.truthy(#problems == 1 and string.find(problems[1].error, c.errors, 1, true), c.errors)
      else
        assert.same(c.errors, problems)
      end
    end)
  end
end)

for _, what in ipairs({ "put", "delete" }) do
  describe("API bodies (" .. what .. ")", function()
    local planner = what == "put" and plan.planPut or plan.planDelete
    for _, c in ipairs(vectors("kinds")[what]) do
      it(c.kind .. " " .. cjson.encode(c.body), function()
        local problems = {}
        local p = planner(kindById(c.kind), "ELB", c.body, problems)
        assert.same(c.errors, problems)
        if #c.errors > 0 then return end
        local puts, groups = {}, {}
        for _, x in ipairs(p.puts) do puts[#puts + 1] = x.key end
        for _, g in ipairs(p.groups) do groups[#groups + 1] = g.prefix end
        assert.same(c.puts, puts)
        assert.same(c.deletes, p.deletes)
        assert.same(c.groups, groups)
        assert.same(c.names, p.names)
      end)
    end
  end)
end

describe("rule sets", function()
  local v = vectors("ruleset")
  for _, c in ipairs(v.valid) do
    it("accepts and compiles: " .. c.name, function()
      local problems, warnings = {}, {}
      ruleset.validateRuleSet(c.ruleset, "", regex_check, problems, warnings, false)
      assert.same({}, problems)
      local want = c.warnings or {}
      assert.equals(#want, #warnings)
      for i, w in ipairs(want) do
        assert.equals(w.path, warnings[i].path)
        assert.equals(w.warning, warnings[i].warning:sub(1, #w.warning))
      end
      local compiled = ruleset.compileRuleSet(c.ruleset)
      assert.equals(c.compiled.init, compiled.init.name)
      assert.equals(c.compiled.maxSteps, compiled.maxSteps)
      assert.equals(c.compiled.captures or false, compiled.captures)
      local seen = {}
      local function visit(n)
        if n == nil or seen[n.name] then return end
        seen[n.name] = n
        for _, s in ipairs(node_mod.successors(n)) do visit(s) end
      end
      visit(compiled.init)
      for name, edge in pairs(c.compiled.edges) do
        local n = assert(seen[name], name)
        assert.equals(nul(edge[1]), n.succ and n.succ.name)
        assert.equals(nul(edge[2]), n.fail and n.fail.name)
        if n.succ then assert.equals(seen[n.succ.name], n.succ) end
      end
      for name, b in pairs(c.compiled.backend or {}) do
        local n = seen[name]
        assert.equals(b.server, n.server)
        assert.equals(b.literal, n.literal)
        local headers = {}
        for i, h in ipairs(n.headerNames) do headers[i] = { h, n.headerValues[i] } end
        assert.same(b.headers, headers)
      end
      for name, fields in pairs(c.compiled.nodes or {}) do
        local n = assert(seen[name], name)
        for f, v in pairs(fields) do assert.same(nul(v), n[f], name .. "." .. f) end
      end
      for name, list in pairs(c.compiled.branches or {}) do
        local got = {}
        for i, b in ipairs(seen[name].branches) do got[i] = b.name end
        assert.same(list, got)
      end
    end)
  end
  for _, c in ipairs(v.strict) do
    it("refuses when strict: " .. c.name, function()
      local problems = {}
      ruleset.validateRuleSet(c.ruleset, "", regex_check, problems, nil, true)
      assert.equals(#c.errors, #problems)
      for i, e in ipairs(c.errors) do
        assert.equals(e.path, problems[i].path)
        assert.equals(e.error, problems[i].error:sub(1, #e.error))
      end
    end)
  end
  for _, c in ipairs(v.invalid) do
    it("rejects: " .. c.name, function()
      local problems = {}
      ruleset.validateRuleSet(c.ruleset, "", regex_check, problems)
      assert.equals(#c.errors, #problems)
      for i, e in ipairs(c.errors) do
        assert.equals(e.path, problems[i].path)
        if e.prefix then
          assert.equals(e.error, problems[i].error:sub(1, #e.error))
        else
          assert.equals(e.error, problems[i].error)
        end
      end
    end)
  end
  it("reports paths under the domain's pointer, escaping / and ~", function()
    local problems = {}
    ruleset.validateRuleSet({ init = "a/b", rules = { ["a/b"] = { type = "x", args = {} } } },
      problems_mod.pointer("", "ex~ample"), regex_check, problems)
    assert.same({ { path = "/ex~0ample/rules/a~1b/type", error = 'unknown rule type "x" (known: ua, path, backend, header, cookie, query, method, ip, scheme, split, redirect, respond, limit)' } }, problems)
  end)
end)

describe("regex lint: nested unbounded quantifiers", function()
  for _, c in ipairs(vectors("regex-lint").patterns) do
    it(c.pattern, function() assert.equals(nul(c.nested), lint.nestedQuantifier(c.pattern)) end)
  end
end)

describe("addresses and CIDR blocks", function()
  local v = vectors("cidr")
  local byte = string.byte
  local text = { byteAt = string.byte, sub = string.sub }
  for _, c in ipairs(v.addresses) do
    it("address " .. cjson.encode(c.text), function()
      local out = {}
      local family = cidr.parseIp(c.text, byte, out)
      assert.equals(c.family or 0, family)
      if c.family then assert.same(c.bytes, out) end
    end)
  end
  for _, c in ipairs(v.cidrs) do
    it("block " .. cjson.encode(c.text), function()
      local b = cidr.parseCidr(c.text, byte)
      if c.family == nil then assert.is_nil(b)
      else assert.same({ family = c.family, bytes = c.bytes, bits = c.bits }, b) end
    end)
  end
  for _, c in ipairs(v.matches) do
    it(c.ip .. (c["in"] and " in " or " not in ") .. table.concat(c.cidrs, ","), function()
      local list = {}
      for i, t in ipairs(c.cidrs) do list[i] = cidr.parseCidr(t, byte) end
      assert.equals(c["in"], cidr.allowed(c.ip, list, byte))
      local out = {}
      local family = cidr.parseIp(c.ip, byte, out)
      assert.equals(c["in"], family ~= 0 and cidr.inAny(list, family, out))
    end)
  end
  for _, c in ipairs(v.lists) do
    it("list " .. cjson.encode(c.spec), function()
      local r = cidr.parseCidrList(c.spec, text)
      if c.error then assert.equals(c.error, r) else assert.equals(c.count, #r) end
    end)
  end
end)

local function cumulative(w)
  local out, t = {}, 0
  for i, x in ipairs(w) do t = t + x; out[i] = t end
  return out
end

describe("split: the choice of branch", function()
  local v = vectors("split")
  for _, c in ipairs(v.sticky) do
    it("sticky " .. table.concat(c.weights, "/"), function()
      local cu = cumulative(c.weights)
      for key, b in pairs(c.branches) do assert.equals(b, split.branchOfKey(cu, cu[#cu], key), key) end
    end)
  end
  for _, c in ipairs(v.random) do
    it("random " .. table.concat(c.weights, "/") .. " at " .. c.r, function()
      local cu = cumulative(c.weights)
      assert.equals(c.branch, choose.branchByRandom(cu, cu[#cu], c.r))
    end)
  end
  for _, c in ipairs(v.shares) do
    it("sticky shares of " .. table.concat(c.weights, "/") .. " over " .. c.keys .. " clients", function()
      local cu = cumulative(c.weights)
      local total = cu[#cu]
      local counts = {}
      for i = 1, #c.weights do counts[i] = 0 end
      for i = 1, c.keys do
        local key = string.format("10.%d.%d.%d", bit.rshift(i, 16), bit.band(bit.rshift(i, 8), 255), bit.band(i, 255))
        local b = split.branchOfKey(cu, total, key) + 1
        counts[b] = counts[b] + 1
      end
      for i, w in ipairs(c.weights) do
        assert.is_true(math.abs(counts[i] / c.keys - w / total) <= c.within, "branch " .. (i - 1))
      end
    end)
  end
end)

describe("limit: the token bucket", function()
  local function memory_store()
    local m = {}
    return {
      incr = function(_, key, value, init)
        local old = m[key]
        if old == nil then old = init end
        if old == nil then return nil, "not found" end
        m[key] = old + value
        return old + value
      end,
      set = function(_, key, value) m[key] = value; return true end,
    }
  end
  for _, c in ipairs(vectors("bucket").sequences) do
    it(c.name, function()
      local store = memory_store()
      for _, e in ipairs(c.events) do
        local got = {}
        for i = 1, #e.expect do got[i] = bucket.admit(store, e.key, e.at, c.per / c.rate, c.rate + c.burst) end
        assert.same(e.expect, got, "at " .. e.at .. " key " .. e.key)
      end
    end)
  end
end)

describe("server params", function()
  local v = vectors("server-params")
  for _, c in ipairs(v.valid) do
    it("parses " .. cjson.encode(c.text), function()
      local problems = {}
      local p = params.parseServerParams(c.text, "/up/s", problems)
      assert.same({}, problems)
      assert.same(c.params, p)
      assert.equals(c.canonical, params.formatServerParams(p))
    end)
  end
  for _, c in ipairs(v.invalid) do
    it("rejects " .. cjson.encode(c.text or c.value), function()
      local problems = {}
      assert.is_nil(params.parseServerParams(c.text or c.value, "/up/s", problems))
      local want = {}
      for i, e in ipairs(c.errors) do want[i] = { path = "/up/s", error = e } end
      assert.same(want, problems)
    end)
  end
end)

describe("addresses and names", function()
  local a = vectors("address")
  for _, c in ipairs(a.valid) do
    it("parses " .. c.text, function()
      assert.same({ host = c.host, port = c.port, isIp = c.isIp }, address.parseHostPort(c.text))
    end)
  end
  for _, c in ipairs(a.invalid) do
    it("rejects " .. c.text, function()
      assert.equals(c.error, address.parseHostPort(c.text))
    end)
  end
  local n = vectors("names")
  for _, c in ipairs(n.domains) do
    it("domain " .. cjson.encode(c.text), function() assert.equals(c.error, names.checkDomain(c.text)) end)
  end
  for _, c in ipairs(n.upstreams) do
    it("upstream " .. cjson.encode(c.text), function() assert.equals(c.error, names.checkUpstreamName(c.text)) end)
  end
end)

local function peers_of(spec)
  local out = {}
  for i, s in ipairs(spec) do
    out[i] = { addr = s.addr, ip = "127.0.0.1", port = 1, key = s.addr, params = params.parseServerParams(s.params, "", {}), current = 0 }
  end
  return out
end

describe("smooth weighted round robin", function()
  local v = vectors("roundrobin")
  for _, c in ipairs(v.sequences) do
    it(c.name, function()
      local r = rr.create(peers_of(c.peers), { byteAt = string.byte, seed = 1 })
      local failed = {}
      for _, f in ipairs(c.failed or {}) do failed[f] = true end
      local function filter(p) return not failed[p.addr] end
      local got = {}
      for i = 1, #c.picks do
        local p = rr.pick(r, filter, nil, nil, 0)
        got[i] = p and p.addr or cjson.null
      end
      assert.same(c.picks, got)
    end)
  end
  for _, c in ipairs(v.distributions) do
    it(c.name, function()
      local r = rr.create(peers_of(c.peers), { byteAt = string.byte, seed = 1 })
      local counts = {}
      for _ = 1, c.picks do
        local p = rr.pick(r, nil, nil, nil, 0)
        counts[p.addr] = (counts[p.addr] or 0) + 1
      end
      assert.same(c.counts, counts)
    end)
  end
end)

-- the rule graph's description: what GET /__erulb__/graph and elbctl graph draw (test/graph.test.ts)
describe("rule graph descriptions", function()
  for _, c in ipairs(vectors("graph").cases) do
    it(c.name, function()
      local got = graph.describeGraph(ruleset.compileRuleSet(c.ruleset).init)
      assert.same(c.graph, json.decode(json.encode(got)))
    end)
  end
end)

end
