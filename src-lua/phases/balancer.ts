// The balancer phase: the upstream the access phase chose picks a peer by smooth weighted
// round robin, skipping servers marked down and those failing passive health. A retry
// (connect error or timeout, proxy_next_upstream) records the failure and never goes back
// to a server this request already tried while another one is usable. Plain Lua.
import * as balancer from "ngx.balancer";
import { pick, Peer } from "../core/balancer/roundrobin";
import { Upstream } from "../config/view";
import { isDown, recordFailure } from "../health/passive";

/** More tries than this per request are not useful and only delay the error. */
const MAX_TRIES = 8;

function healthyAndUntried(this: void, peer: Peer, tried: unknown): boolean {
  if (tried !== undefined && (tried as LuaTable<Peer, boolean>).get(peer)) return false;
  return !isDown(peer);
}

function untried(this: void, peer: Peer, tried: unknown): boolean {
  return tried === undefined || !(tried as LuaTable<Peer, boolean>).get(peer);
}

export function run(): void {
  const ctx = ngx.ctx;
  const up: Upstream = ctx.elb_up;
  let tried: LuaTable<Peer, boolean> | undefined = ctx.elb_tried;
  const last: Peer | undefined = ctx.elb_peer;
  if (last === undefined) {
    const usable = up.rr.usable;
    if (usable > 1) balancer.set_more_tries(usable > MAX_TRIES ? MAX_TRIES - 1 : usable - 1);
  } else {
    recordFailure(last);
    if (tried === undefined) {
      tried = new LuaTable();
      ctx.elb_tried = tried;
    }
    tried.set(last, true);
  }
  let peer = pick(up.rr, healthyAndUntried, tried);
  // every server failed recently: like nginx, try them anyway rather than fail at once
  if (peer === undefined) peer = pick(up.rr, untried, tried);
  if (peer === undefined) {
    ngx.log(ngx.ERR, "upstream ", up.name, ": no server left to try");
    return ngx.exit(502);
  }
  ctx.elb_peer = peer;
  const [ok, err] = balancer.set_current_peer(peer.ip, peer.port);
  if (!ok) {
    ngx.log(ngx.ERR, "upstream ", up.name, ": cannot use ", peer.addr, ": ", err);
    return ngx.exit(502);
  }
}
