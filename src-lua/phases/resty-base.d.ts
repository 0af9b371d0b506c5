// lua-resty-core's base module: the request the running Lua code serves.

/** @noSelf */
declare module "resty.core.base" {
  /** the ngx_http_request_t of the request being served (a light userdata); undefined outside a request (timers, init) */
  function get_request(): object | undefined;
}
