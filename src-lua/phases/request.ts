// What the phases of one request hand each other (access -> balancer tries -> header filter ->
// log, also across ngx.exec and the error_page jump), in place of ngx.ctx: a table per request
// kept here, keyed by the request itself (the address of the ngx_http_request_t that
// lua-resty-core passes to every FFI call, as a number: the pointer is a new cdata each time; one table lookup where ngx.ctx costs a metamethod and an FFI call per read
// and a registry reference per request). Two requests alive at once never share a pointer; a
// freed request's pointer may come back for a later one, so the access phase always starts a
// fresh state and the log phase (which every request that entered the access phase reaches)
// forgets it. Outside a request (the routing bench calls the access phase from a timer) one
// shared state stands in. Plain Lua.
import { get_request } from "resty.core.base";
import * as ffi from "ffi";
import { Peer } from "../core/balancer/peer";
import { RuleNode } from "../core/rules/node";
import { Upstream } from "../config/view";

export interface RequestState {
  /** the name of the domain it routes by (as stored: a wildcard's is *.example.com) */
  domain: string | undefined;
  /** the upstream the access phase chose */
  up: Upstream | undefined;
  /** the backend rule whose set_response_headers the header filter applies */
  resp: RuleNode | undefined;
  /** the server of the try in progress (undefined between a failed try and the next) */
  peer: Peer | undefined;
  /** the servers this request tried already (retries only) */
  tried: LuaTable<Peer, boolean> | undefined;
  /** the hash key (hashed algorithms), the sticky cookie's value the request carried */
  key: string | undefined;
  sticky: string | undefined;
  /** the key of the server the last try went to, "<upstream>|" when none could be picked */
  served: string | undefined;
  /** nginx's own error page answered (phases/upstream_error.ts) */
  errorPage: boolean;
}

const states = new LuaTable<number, RequestState>();
const spares: RequestState[] = [];
let outside: RequestState | undefined;

/** The address of the request being served; undefined outside a request. */
function address(): number | undefined {
  const r = get_request();
  if (r === undefined) return undefined;
  return tonumber(ffi.cast("uintptr_t", r));
}

function blank(): RequestState {
  return { domain: undefined, up: undefined, resp: undefined, peer: undefined, tried: undefined, key: undefined, sticky: undefined, served: undefined, errorPage: false };
}

/** The access phase: a fresh state for this request. */
export function begin(): RequestState {
  const r = address();
  const n = spares.length;
  let s: RequestState;
  if (n > 0) {
    s = spares[n - 1];
    spares[n - 1] = undefined as unknown as RequestState;
  } else {
    s = blank();
  }
  if (r === undefined) {
    outside = s;
    return s;
  }
  states.set(r, s);
  return s;
}

/** The state of the request being served, if its access phase began one. */
export function current(): RequestState | undefined {
  const r = address();
  if (r === undefined) return outside;
  return states.get(r);
}

/** The log phase: the request is over; its table is reused. */
export function forget(s: RequestState): void {
  const r = address();
  if (r !== undefined) states.delete(r);
  s.domain = undefined;
  s.up = undefined;
  s.resp = undefined;
  s.peer = undefined;
  s.tried = undefined;
  s.key = undefined;
  s.sticky = undefined;
  s.served = undefined;
  s.errorPage = false;
  if (spares.length < 256) spares.push(s);
}
