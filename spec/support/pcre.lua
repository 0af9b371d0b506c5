-- A PCRE compile check for specs that run under plain LuaJIT, where ngx.re is not available:
-- the same libpcre the nginx Lua module links, through the FFI.
local ffi = require("ffi")

ffi.cdef([[
void *pcre_compile(const char *pattern, int options, const char **errptr, int *erroffset, const unsigned char *tableptr);
extern void (*pcre_free)(void *);
]])

local lib = ffi.load("pcre.so.3")
local PCRE_CASELESS = 0x1

return function(pattern, caseless)
  local errptr = ffi.new("const char *[1]")
  local erroff = ffi.new("int[1]")
  local re = lib.pcre_compile(pattern, caseless and PCRE_CASELESS or 0, errptr, erroff, nil)
  if re == nil then
    return "pcre_compile() failed: " .. ffi.string(errptr[0]) .. " at offset " .. erroff[0]
  end
  lib.pcre_free(re)
  return nil
end
