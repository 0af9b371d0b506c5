-- Loads the shared test vectors (test/vectors/*.json), the same files the vitest suite reads.
local cjson = require("cjson")

local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local dir = here .. "../../test/vectors/"

return function(name)
  local f = assert(io.open(dir .. name .. ".json", "rb"))
  local text = f:read("*a")
  f:close()
  return cjson.decode(text)
end
