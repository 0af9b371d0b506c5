-- Host lookup (config.view domainName / lookupWildcard) as config.apply maintains it: exact
-- names, wildcards (*.example.com, the most specific wins) and the default (*), with at most one
-- table probe per label and none for labels deeper than any wildcard.
require("config.json").install()
local apply = require("config.apply")
local view = require("config.view")

local function rules(body)
  return '{"init":"r","rules":{"r":{"type":"respond","args":{"status":200,"body":"' .. body .. '"}}}}'
end

local function put(name, body)
  assert.is_true(apply.applyKey("/ELB/rules/" .. name, rules(body), true))
end

local function del(name)
  assert.is_true(apply.applyKey("/ELB/rules/" .. name, nil, true))
end

local function answer(host)
  local name = view.domainName(host)
  return name and view.domains[name].rules.init.body
end

-- counts the probes of view.wildcards that miss (a hit does not reach __index)
local misses = 0
setmetatable(view.wildcards, { __index = function() misses = misses + 1 end })

describe("host lookup", function()
  it("prefers the exact name, then the most specific wildcard, then the default", function()
    put("api.example.com", "exact")
    put("*.example.com", "wildcard")
    put("*.b.example.com", "specific")
    assert.equals("exact", answer("api.example.com"))
    assert.equals("wildcard", answer("x.example.com"))
    assert.equals("wildcard", answer("b.example.com"))
    assert.equals("specific", answer("a.b.example.com"))
    assert.equals("specific", answer("x.y.a.b.example.com"))
    assert.is_nil(answer("example.com"))
    assert.is_nil(answer("other.net"))
    put("*", "default")
    assert.equals("default", answer("example.com"))
    assert.equals("default", answer("localhost"))
    assert.equals("exact", answer("api.example.com"))
  end)

  it("probes at most once per label, and not deeper than the deepest wildcard", function()
    misses = 0
    assert.equals("wildcard", answer("a.b.c.d.e.f.example.com"))
    -- the deepest wildcard covers 3 labels (b.example.com): only suffixes of 3 labels or fewer are probed
    assert.equals(1, misses) -- f.example.com
    misses = 0
    assert.equals("default", answer("a.b.c.d.other.net"))
    assert.equals(3, misses) -- d.other.net, other.net, net
    misses = 0
    assert.equals("default", answer("localhost"))
    assert.equals(0, misses)
  end)

  it("forgets a removed wildcard or default at once, and the depth with it", function()
    del("*.b.example.com")
    assert.equals("wildcard", answer("a.b.example.com"))
    assert.equals(2, view.hostIndex.depth)
    misses = 0
    answer("a.b.c.other.net")
    assert.equals(2, misses)
    del("*")
    assert.is_nil(answer("other.net"))
    del("*.example.com")
    assert.equals(0, view.hostIndex.wildcards)
    assert.equals(0, view.hostIndex.depth)
    assert.is_nil(answer("x.example.com"))
    assert.equals("exact", answer("api.example.com"))
  end)

  it("names the domain a Host routes by as stored: the wildcard's or the default's name", function()
    put("*.example.com", "wildcard")
    put("*", "default")
    assert.equals("*.example.com", view.domainName("x.example.com"))
    assert.equals("*", view.domainName("other.net"))
    assert.equals("other.net", (function() put("other.net", "exact"); return view.domainName("other.net") end)())
    del("other.net")
    del("*.example.com")
    del("*")
    del("api.example.com")
  end)
end)
