-- Health inside nginx, with the real shared dicts: the active checks' state machine
-- (health.checker record), passive health, in-flight counts, what the API reports, and a
-- policy applied to an upstream (algorithm, sticky ids, carried-over join times).
require("config.json").install()
local policy = require("core.policy")
local peer_mod = require("core.balancer.peer")
local params = require("core.server-params")
local checker = require("health.checker")
local state = require("health.state")
local passive = require("health.passive")
local report = require("health.report")
local apply = require("config.apply")
local view = require("config.view")

local dict = ngx.shared.elb_health
local n = 0

local function new_peer(p)
  n = n + 1
  local addr = "127.0.0.1:" .. (9000 + n)
  local peer = peer_mod.newPeer(addr, "127.0.0.1", 9000 + n, "spec" .. n .. "|" .. addr, params.parseServerParams(p or "", "", {}))
  state.fillKeys(peer)
  peer.checked = true
  return peer
end

local function check_of(v)
  return policy.normalizePolicy({ healthcheck = v }).healthcheck
end

describe("active checks: http", function()
  local hc = check_of({ type = "http", rise = 2, fall = 2 })

  it("marks a server unhealthy after fall failures, healthy after rise successes", function()
    local p = new_peer()
    checker.record(p, hc, 200, nil)
    assert.equals(0, state.checkBits(p))
    checker.record(p, hc, 500, nil)
    assert.equals(0, state.checkBits(p)) -- one failure: fall is 2
    checker.record(p, hc, nil, "connect: connection refused")
    assert.equals(state.UNHEALTHY, state.checkBits(p))
    assert.same({ state = "unhealthy", healthy = false, fails = 2, active = 0, checkedAt = dict:get("t|" .. p.key), changes = 1 }, report.serverHealth(p.key, p.params, true))
    checker.record(p, hc, 204, nil)
    assert.equals(state.UNHEALTHY, state.checkBits(p)) -- one success: rise is 2
    checker.record(p, hc, 301, nil)
    assert.equals(0, state.checkBits(p))
    assert.is_true(dict:get("r|" .. p.key) > 0) -- slow start ramps from here
    assert.equals(2, dict:get("n|" .. p.key))
  end)

  it("counts only the statuses listed when statuses is given", function()
    local p = new_peer()
    local strict = check_of({ type = "http", statuses = { 204 }, fall = 1 })
    checker.record(p, strict, 200, nil)
    assert.equals(state.UNHEALTHY, state.checkBits(p))
  end)
end)

describe("active checks: node-state", function()
  local hc = check_of({ type = "node-state", rise = 2, fall = 2 })

  it("drains and takes offline at the first answer, comes back after rise answers", function()
    local p = new_peer()
    checker.record(p, hc, 404, nil)
    assert.equals(state.DRAIN, state.checkBits(p))
    assert.equals("drain", report.serverHealth(p.key, p.params, true).state)
    checker.record(p, hc, 503, nil)
    assert.equals(state.OFFLINE, state.checkBits(p))
    assert.equals("down", report.serverHealth(p.key, p.params, true).state)
    checker.record(p, hc, 200, nil)
    assert.equals(state.OFFLINE, state.checkBits(p))
    checker.record(p, hc, 200, nil)
    assert.equals(0, state.checkBits(p))
  end)

  it("treats an unknown answer or none as a failed check", function()
    local p = new_peer()
    checker.record(p, hc, 500, nil)
    checker.record(p, hc, nil, "timeout")
    assert.equals(state.UNHEALTHY, state.checkBits(p))
    assert.equals("unhealthy", report.serverHealth(p.key, p.params, true).state)
  end)
end)

describe("passive health and in-flight counts", function()
  it("takes a server out after max_fails within fail_timeout, for every worker", function()
    local p = new_peer("max_fails=2 fail_timeout=30")
    passive.recordFailure(p)
    assert.is_false(state.isDown(p))
    assert.equals(1, report.serverHealth(p.key, p.params, false).fails)
    passive.recordFailure(p)
    assert.is_true(state.isDown(p))
    local h = report.serverHealth(p.key, p.params, false)
    assert.equals("unhealthy", h.state)
    assert.is_false(h.healthy)
  end)

  it("counts requests in flight, never below zero, shown once the worker published them", function()
    local p = new_peer()
    state.enter(p)
    state.enter(p)
    assert.equals(0, report.serverHealth(p.key, p.params, false).active)
    state.publishInflight()
    assert.equals(2, report.serverHealth(p.key, p.params, false).active)
    state.leave(p.key)
    state.leave(p.key)
    state.leave(p.key)
    state.publishInflight()
    assert.equals(0, report.serverHealth(p.key, p.params, false).active)
    state.enter(p)
    state.publishInflight()
    state.forgetInflight()
    assert.equals(0, report.serverHealth(p.key, p.params, false).active)
  end)

  it("reports drain, backup and down from the params", function()
    assert.equals("drain", report.serverHealth("x|1", params.parseServerParams("drain", "", {}), false).state)
    assert.equals("backup", report.serverHealth("x|2", params.parseServerParams("backup", "", {}), false).state)
    assert.equals("down", report.serverHealth("x|3", params.parseServerParams("down drain", "", {}), false).state)
  end)
end)

describe("policies applied to an upstream", function()
  it("builds the algorithm, sticky ids and check flags, and keeps join times on a rebuild", function()
    assert.is_true(apply.applyKey("/ELB/upstreams/pol/127.0.0.1:81", "slow_start=10"))
    local up = view.upstreams.pol
    assert.equals("roundrobin", up.algo.name)
    local joined = up.peers[1].since
    assert.is_true(up.slowStart)
    assert.is_true(apply.applyKey("/ELB/policies/pol", '{"algorithm":"chash","sticky":{"cookie":"s","ttl":5},"healthcheck":{"type":"http"}}'))
    up = view.upstreams.pol
    assert.equals("chash", up.algo.name)
    assert.equals("cookie_s", up.stickyVar)
    assert.equals("; Path=/; HttpOnly; Max-Age=5", up.stickySuffix)
    local p = up.peers[1]
    assert.matches("^%x+$", p.id)
    assert.equals(16, #p.id)
    assert.equals(p, up.byId[p.id])
    assert.is_true(p.checked)
    assert.equals(joined, p.since)
    assert.is_false(apply.applyKey("/ELB/policies/pol", '{"algorithm":"nope"}'))
    assert.equals("chash", view.upstreams.pol.algo.name) -- the last valid one keeps serving
    assert.is_true(apply.applyKey("/ELB/policies/pol", nil))
    assert.equals("roundrobin", view.upstreams.pol.algo.name)
    assert.is_false(view.upstreams.pol.peers[1].checked)
    apply.applyKey("/ELB/upstreams/pol/127.0.0.1:81", nil)
  end)
end)
