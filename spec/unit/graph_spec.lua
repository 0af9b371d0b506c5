-- The rule graph's description (core/rules/graph.lua) under LuaJIT, against the vectors
-- test/graph.test.ts runs against the TypeScript: the engine's GET /__erulb__/graph and elbctl
-- graph describe a rule set alike.
local json = require("config.json")
json.install()
local vectors = require("support.vectors")
local ruleset = require("core.ruleset")
local graph = require("core.rules.graph")

require("core.host").useHost({
  decodeJson = function(text)
    local value, err = json.decode(text)
    return { value = value, error = err }
  end,
  encodeJson = json.encode,
  checkRegex = require("support.pcre"),
})

describe("rule graph descriptions", function()
  for _, c in ipairs(vectors("graph").cases) do
    it(c.name, function()
      local got = graph.describeGraph(ruleset.compileRuleSet(c.ruleset).init)
      assert.same(c.graph, json.decode(json.encode(got)))
    end)
  end
end)
