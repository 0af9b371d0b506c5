-- The journal beside the snapshot (config.journal): what is appended is read back, and the
-- highest event number of a file is found from the entries' headers alone.
local settings = require("node.settings").settings
local journal = require("config.journal")

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir .. "/state"))
settings.prefix = dir

local function raw(text)
  local f = assert(io.open(journal.path(), "ab"))
  f:write(text)
  f:close()
end

describe("config journal", function()
  after_each(function()
    os.remove(journal.path())
  end)

  teardown(function()
    os.execute("rm -rf " .. dir)
  end)

  it("reads back what was appended; the last event number is the highest one", function()
    assert.is_nil(journal.append({ { seq = 7, rev = 70, key = "/ELB/rules/a", value = "{\"x\":\"line\\nbreak\"}" } }))
    assert.is_nil(journal.append({ { seq = 8, rev = 71, key = "/ELB/rules/b", value = nil }, { seq = 9, rev = 71, key = "/ELB/rules/c", value = string.rep("v", 100000) } }))
    local entries = journal.readFile(journal.path())
    assert.equals(3, #entries)
    assert.is_nil(entries[2].value)
    assert.equals(100000, #entries[3].value)
    assert.equals(9, journal.lastSeq(journal.path()))
  end)

  it("does not count a torn last entry, nor one whose value is cut short", function()
    assert.is_nil(journal.append({ { seq = 3, rev = 30, key = "k", value = "abc" } }))
    raw("4 31 P 1 3\nkab")
    assert.equals(3, journal.lastSeq(journal.path()))
    assert.equals(1, #journal.readFile(journal.path()))
    os.remove(journal.path())
    assert.is_nil(journal.append({ { seq = 5, rev = 30, key = "k", value = "abc" } }))
    raw("6 31 P 1 3\nkabcX7 32 P 1 1\nkz\n")
    assert.equals(5, journal.lastSeq(journal.path()))
  end)

  it("is 0 for a file that is missing or holds no entry", function()
    assert.equals(0, journal.lastSeq(dir .. "/state/none"))
    raw("")
    assert.equals(0, journal.lastSeq(journal.path()))
  end)
end)
