-- The node store and event log (config.store), a worker following it (config.sync) and the
-- view it builds (config.view), inside nginx with the real shared dicts.
require("config.json").install()
local store = require("config.store")
local sync = require("config.sync")
local view = require("config.view")
local apply = require("config.apply")

local RULES = '{"init":"b","rules":{"b":{"type":"backend","args":{"servername":"up1"}}}}'

describe("config store", function()
  it("records a change and a worker applies it from the event log", function()
    local before = store.lastSeq()
    local seq = assert(store.commit({ { key = "/ELB/rules/a.example", value = RULES } }, 100))
    assert.equals(before + 1, seq)
    assert.is_nil(view.domains["a.example"])
    sync.poll()
    assert.equals(sync.appliedSeq(), seq)
    assert.equals("b", view.domains["a.example"].rules.init.name)
    assert.equals(RULES, view.domains["a.example"].raw)
    assert.equals(100, store.revision())
  end)

  it("ignores a change older than what it holds", function()
    assert(store.commit({ { key = "/ELB/rules/a.example", value = RULES:gsub("up1", "old") } }, 99))
    sync.poll()
    assert.equals("up1", view.domains["a.example"].rules.init.server)
    assert.equals(100, store.read("/ELB/rules/a.example").rev)
  end)

  it("builds an upstream from its servers and rebuilds only that one on a change", function()
    assert(store.commit({
      { key = "/ELB/upstreams/up1/127.0.0.1:81", value = "weight=3" },
      { key = "/ELB/upstreams/up1/127.0.0.1:82", value = "" },
      { key = "/ELB/upstreams/other/127.0.0.1:83", value = "" },
    }, 101))
    sync.poll()
    local other = view.upstreams["other"]
    assert.equals(2, #view.upstreams["up1"].peers)
    assert.equals(3, view.upstreams["up1"].servers["127.0.0.1:81"].params.weight)
    assert(store.commit({ { key = "/ELB/upstreams/up1/127.0.0.1:82", value = nil } }, 102))
    sync.poll()
    assert.equals(1, #view.upstreams["up1"].peers)
    assert.equals(other, view.upstreams["other"]) -- untouched: the very same table
  end)

  it("resolves host names of servers when it applies them", function()
    assert(store.commit({ { key = "/ELB/upstreams/named/localhost:8088", value = "" } }, 103))
    sync.poll()
    local p = view.upstreams["named"].peers[1]
    assert.equals("127.0.0.1", p.ip)
    assert.equals(8088, p.port)
  end)

  it("removes a domain on a tombstone and counts domains and upstreams", function()
    local d, u = view.counts.domains, view.counts.upstreams
    assert(store.commit({ { key = "/ELB/rules/a.example", value = nil }, { key = "/ELB/upstreams/other/127.0.0.1:83", value = nil } }, 104))
    sync.poll()
    assert.is_nil(view.domains["a.example"])
    assert.is_nil(view.upstreams["other"])
    assert.equals(d - 1, view.counts.domains)
    assert.equals(u - 1, view.counts.upstreams)
    assert.is_nil(store.read("/ELB/rules/a.example").value)
  end)

  it("skips an invalid value in a worker and keeps the last valid one", function()
    assert(store.commit({ { key = "/ELB/rules/b.example", value = RULES } }, 105))
    sync.poll()
    assert.is_false(apply.applyKey("/ELB/rules/b.example", '{"init":"x","rules":{}}'))
    assert.equals("up1", view.domains["b.example"].rules.init.server)
  end)

  it("reapplies everything when events were lost", function()
    assert(store.commit({ { key = "/ELB/rules/c.example", value = RULES } }, 106))
    ngx.shared.elb_config:delete("e|" .. store.lastSeq())
    sync.poll()
    assert.is_not_nil(view.domains["c.example"])
    assert.equals(store.lastSeq(), sync.appliedSeq())
  end)

  it("reports this worker's progress for writers that wait on it", function()
    assert.is_true(sync.waitForWorkers(store.lastSeq(), 0.1))
    assert(store.commit({ { key = "/ELB/rules/d.example", value = RULES } }, 107))
    assert.is_false(sync.waitForWorkers(store.lastSeq(), 0.05))
    sync.poll()
    assert.is_true(sync.waitForWorkers(store.lastSeq(), 0.05))
  end)

  it("a poll that yields mid-batch reports the batch only when it is whole; a poll meanwhile goes on from there", function()
    local changes = {}
    for i = 1, 1200 do changes[i] = { key = "/ELB/rules/bulk" .. i .. ".example", value = RULES } end
    local revBefore = sync.appliedRevision()
    local seq = assert(store.commit(changes, 200, true))
    local first = ngx.thread.spawn(function() sync.poll(true) end)
    -- it applied a part, then let others run
    assert.is_true(sync.appliedSeq() > seq - 1200 and sync.appliedSeq() < seq)
    assert.equals(revBefore, sync.appliedRevision())
    assert.equals(revBefore, store.progressOf(0).revision)
    -- the poll timer does not start a second yielding poll meanwhile
    local at = sync.appliedSeq()
    sync.poll(true)
    assert.equals(at, sync.appliedSeq())
    -- an admin write's poll finishes the batch from where the first one was
    sync.poll()
    assert.equals(seq, sync.appliedSeq())
    assert.equals(200, sync.appliedRevision())
    assert.is_not_nil(view.domains["bulk1.example"])
    assert.is_not_nil(view.domains["bulk1200.example"])
    assert.is_true(ngx.thread.wait(first))
    assert.equals(seq, sync.appliedSeq())
    assert.equals(200, store.progressOf(0).revision)
  end)
end)

