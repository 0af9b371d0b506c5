-- Probes for bench/sections/breakdown.mjs: single ngx_lua primitives, called from an
-- access_by_lua block as functions of a module, as the engine's phases are (so LuaJIT
-- compiles them once they are hot, like the engine's code).
local M = {}

function M.read3()
  local v = ngx.var
  return v.host, v.http_user_agent, v.uri
end

local dict
function M.incr2()
  dict = dict or ngx.shared.elb_health
  dict:incr("bench|a", 1, 0)
  dict:incr("bench|a", -1, 0)
end

local find = ngx.re.find
function M.regex2()
  local v = ngx.var
  find(v.http_user_agent, [[bench-client/(\S+)$]], "joi")
  find(v.uri, [[^/api/(\S+)$]], "jo")
end

function M.ctx()
  ngx.ctx.x = 1
end

return M
