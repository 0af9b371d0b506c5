-- Reproduces the stall of a 100,000-domain ELB worker: config/snapshot.ts builds one Lua
-- string per entry, "<key length> <value length>\n<key><value>\n". Those strings differ only
-- in a few bytes in the middle (the domain's number), which the LuaJIT string hash of this
-- build does not sample, so they all land in one chain of the string table and interning
-- each one compares it with every earlier one: O(n^2). Writing the pieces instead (a table of
-- pieces for table.concat, file:write(...) or string.buffer) creates no such strings.
--
--   luajit bench/lua/string-hash-repro.lua            (about 15 s; sizes can be given: 10000 20000)
local value = '{"init":"ua","rules":{"ua":{"type":"ua","args":{"pattern":"bench-client/(\\\\S+)$","succ":"path","fail":"other"}},' ..
  '"path":{"type":"path","args":{"regex":true,"pattern":"^/api/(\\\\S+)$","succ":"api","fail":"other"}},' ..
  '"api":{"type":"backend","args":{"servername":"up1"}},"other":{"type":"backend","args":{"servername":"up2"}}}}'
local sizes = {}
for i = 1, select("#", ...) do sizes[#sizes + 1] = tonumber((select(i, ...))) end
if #sizes == 0 then sizes = { 10000, 20000, 40000 } end

for _, n in ipairs(sizes) do
  local keys = {}
  for i = 1, n do keys[i] = string.format("/ELB/rules/d%d.example.com", 100000 + i) end
  collectgarbage()
  local t0 = os.clock()
  local parts = {}
  for i = 1, n do
    local key = keys[i]
    -- what typescript-to-lua makes of `${key.length} ${value.length}\n${key}${value}\n`
    parts[#parts + 1] = (((((tostring(#key) .. " ") .. tostring(#value)) .. "\n") .. key) .. value) .. "\n"
  end
  local perEntry = os.clock() - t0
  parts = nil
  collectgarbage()
  t0 = os.clock()
  local pieces, m = {}, 0
  for i = 1, n do
    local key = keys[i]
    pieces[m + 1] = #key; pieces[m + 2] = " "; pieces[m + 3] = #value; pieces[m + 4] = "\n"
    pieces[m + 5] = key; pieces[m + 6] = value; pieces[m + 7] = "\n"
    m = m + 7
  end
  local text = table.concat(pieces)
  local piecewise = os.clock() - t0
  print(string.format("%6d entries: one string per entry %7.3f s, pieces + table.concat %6.3f s (%d bytes)", n, perEntry, piecewise, #text))
end
