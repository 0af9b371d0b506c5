-- Policies and their etcd keys as compiled Lua, against test/vectors/policy.json (the same
-- cases test/policy.test.ts runs under Node).
require("config.json").install()
local cjson = require("cjson")
local vectors = require("support.vectors")
local policy = require("core.policy")

local v = vectors("policy")

describe("policies", function()
  for _, c in ipairs(v.valid) do
    it("accepts and normalizes: " .. c.name, function()
      local problems = {}
      policy.validatePolicy(c.policy, "", problems)
      assert.same({}, problems)
      assert.same(c.normalized, policy.normalizePolicy(c.policy))
    end)
  end
  for _, c in ipairs(v.invalid) do
    it("rejects: " .. c.name, function()
      local problems = {}
      policy.validatePolicy(c.policy, "", problems)
      assert.same(c.errors, problems)
    end)
  end
  it("reports under the caller's pointer", function()
    local problems = {}
    policy.validatePolicy({ retries = -1 }, "/up1", problems)
    assert.same({ { path = "/up1/retries", error = "must be a whole number from 0 to 100, got -1" } }, problems)
  end)
end)
