-- Templates (core.rules.template) as compiled Lua: parsing is linear in the text's length. A
-- rewrite of 16 MiB once pinned a worker for minutes (found by npm run chaos: each character
-- was appended to a growing string, which LuaJIT copies every time).
local template = require("core.rules.template")

describe("templates", function()
  it("parse a 4 MiB template in well under a second", function()
    local text = "/v2/" .. string.rep("p", 4 * 1024 * 1024) .. "$1$$x$uri"
    local started = os.clock()
    local t = template.parseTemplate(text, template.PATH_VARS)
    local took = os.clock() - started
    assert.is_table(t)
    assert.equal(4 * 1024 * 1024 + 4, #t.parts[1])
    assert.equal(1, t.caps[2])
    assert.equal("$x", t.parts[3])
    assert.equal("uri", t.vars[4])
    assert.truthy(took < 1, "took " .. took .. " s")
  end)

  it("keeps plain runs, $$ and variables in order", function()
    local t = template.parseTemplate("a$$b${uri}c$2", template.PATH_VARS)
    assert.same({ "a$b", "", "c", "" }, t.parts)
    assert.same({ 0, 0, 0, 2 }, t.caps)
    assert.same({ "", "uri", "", "" }, t.vars)
  end)
end)
