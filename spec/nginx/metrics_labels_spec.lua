-- Prometheus domain labels (metrics.aggregate, metrics.flush): a worker counts by the labels the
-- node has given, learns at each flush those other workers gave, counts the domains beyond the
-- limit as other from their first request, and starts again when a prune freed labels.
-- The cases run in order: each starts from the state the one before left.
local aggregate = require("metrics.aggregate")
local flush = require("metrics.flush")
local dict = ngx.shared.elb_metrics

local function served(name)
  aggregate.count(name, nil, 200, 0.001)
end

local function requests(label)
  return dict:get("d|" .. label .. "|c2") or 0
end

-- what another worker's first request for a domain writes (flush.ts, labelOf), in two steps
local function claimSlot()
  dict:incr("slots", 1, 0)
  return dict:incr("slotseq", 1, 0)
end

local function nameSlot(seq, name)
  dict:set("n|" .. seq, name)
  dict:set("l|" .. name, seq)
end

describe("metrics domain labels", function()
  setup(function()
    dict:flush_all()
    flush.limits.maxDomains = 2
  end)

  it("gives labels while there is room, then counts the others as other from the first request", function()
    served("a.test")
    served("b.test")
    flush.flush()
    assert.equals(1, requests("a.test"))
    assert.equals(1, requests("b.test"))
    assert.is_false(aggregate.room.left)

    served("c.test")
    served("a.test")
    local batch = aggregate.take()
    assert.is_nil(batch.domains["c.test"])
    assert.is_not_nil(batch.domains.other)
    assert.is_not_nil(batch.domains["a.test"])

    served("c.test")
    flush.flush()
    assert.equals(1, requests("other"))
    assert.is_nil(dict:get("l|c.test"))
    assert.same({ "a.test", "b.test" }, flush.labelled())
  end)

  it("learns at its next flush the label another worker gave", function()
    flush.limits.maxDomains = 3
    nameSlot(claimSlot(), "c.test")
    assert.is_false(aggregate.hasLabel("c.test"))
    flush.flush()
    assert.is_true(aggregate.hasLabel("c.test"))
    assert.is_false(aggregate.room.left)
    served("c.test")
    flush.flush()
    assert.equals(1, requests("c.test"))
  end)

  it("waits for a slot given but not named yet, and learns its name once written", function()
    flush.limits.maxDomains = 5
    local seq = claimSlot()
    nameSlot(claimSlot(), "e.test")
    flush.flush()
    assert.is_false(aggregate.hasLabel("e.test"))
    nameSlot(seq, "d.test")
    flush.flush()
    assert.is_true(aggregate.hasLabel("d.test"))
    assert.is_true(aggregate.hasLabel("e.test"))
  end)

  it("forgets the labels a prune freed and gives them anew", function()
    -- no domain is configured in this nginx: the prune frees every label
    flush.prune()
    assert.same({}, flush.labelled())
    flush.flush()
    assert.is_false(aggregate.hasLabel("a.test"))
    assert.is_true(aggregate.room.left)
    assert.is_nil(dict:get("d|a.test|c2"))

    served("f.test")
    flush.flush()
    assert.same({ "f.test" }, flush.labelled())
    assert.equals(1, requests("f.test"))
    assert.is_true(aggregate.hasLabel("unmatched"))
  end)
end)
