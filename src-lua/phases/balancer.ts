// The balancer phase: the upstream the access phase chose picks a peer with its policy's
// algorithm, among the servers a new client may use: not down, not draining, not taken out
// by passive or active health. A sticky cookie naming a server that is still usable (even
// draining) keeps the client there, and the answer gets a cookie naming its server when the
// request did not carry that one ($elb_cookie, sent by add_header). A retry (connect error or
// timeout, proxy_next_upstream; nginx itself never retries a non-idempotent request once it
// was sent) records the failure and never goes back to a server this request already tried
// while another is usable. When no server is usable, on_all_down "any" tries them anyway
// (nginx's way), "fail" answers 502.
// Plain Lua.
import * as balancer from "ngx.balancer";
import { Peer } from "../core/balancer/peer";
import { Upstream } from "../config/view";
import { recordFailure } from "../health/passive";
import { checkBits, enter, isDown, leave, refreshSince, OFFLINE, UNHEALTHY } from "../health/state";
import { Upgraded } from "../core/policy";
import { current, RequestState } from "./request";

/**
 * What ends the balancer phase when no server can be used: nginx's "no live upstreams"
 * (502, through error_page, without calling the balancer again). ngx.exit(502) here would
 * become a plain 500.
 */
const NGX_BUSY = -3;

/** More tries than this per request are not useful and only delay the error (default retries). */
const MAX_TRIES = 8;

/** A server a new client may be sent to. */
function forNewClient(this: void, peer: Peer, tried: unknown): boolean {
  if (tried !== undefined && (tried as LuaTable<Peer, boolean>).get(peer)) return false;
  if (peer.params.drain) return false;
  if (peer.checked && checkBits(peer) !== 0) return false;
  return !isDown(peer);
}

/** on_all_down "any": every server not tried yet, except those that asked to be offline. */
function anyLeft(this: void, peer: Peer, tried: unknown): boolean {
  if (tried !== undefined && (tried as LuaTable<Peer, boolean>).get(peer)) return false;
  if (peer.checked && (checkBits(peer) & OFFLINE) !== 0) return false;
  return true;
}

/** The server a sticky cookie names, while it is usable: draining is fine. */
function stickyUsable(peer: Peer): boolean {
  if (peer.params.down) return false;
  if (peer.checked && (checkBits(peer) & (UNHEALTHY | OFFLINE)) !== 0) return false;
  return !isDown(peer);
}

/** Ends the request with nginx's 502; the error page learns the upstream from `served`, "<name>|". */
function giveUp(state: RequestState, up: Upstream): void {
  state.served = up.name + "|";
  ngx.var.elb_cookie = "";
  return ngx.exit(NGX_BUSY);
}

function firstTry(state: RequestState, up: Upstream): Peer | undefined {
  const policy = up.policy;
  let retries = policy.retries;
  if (retries < 0) retries = up.usable > MAX_TRIES ? MAX_TRIES - 1 : up.usable - 1;
  // a request tries each server once at most
  else if (retries > up.peers.length - 1) retries = up.peers.length - 1;
  if (retries > 0) balancer.set_more_tries(retries);
  const t = policy.timeouts;
  if (ngx.var.http_upgrade !== undefined) {
    // an upgraded connection (WebSocket) lives on nginx's send and read timeouts: not the
    // request's, but how long it may stay silent
    const idle = t !== undefined && t.upgraded > 0 ? t.upgraded : Upgraded.Idle;
    balancer.set_timeouts(t !== undefined && t.connect > 0 ? t.connect : undefined, idle, idle);
  } else if (t !== undefined) {
    balancer.set_timeouts(t.connect > 0 ? t.connect : undefined, t.send > 0 ? t.send : undefined, t.read > 0 ? t.read : undefined);
  }
  if (up.slowStart) {
    const peers = up.peers;
    for (let i = 0; i < peers.length; i++) if (peers[i].params.slowStart > 0) refreshSince(peers[i]);
  }
  if (up.algo.hashed) {
    let key = ngx.var[policy.hashVar];
    if (key === undefined || key === "") key = ngx.var.remote_addr;
    state.key = key;
  }
  const cookieVar = up.stickyVar;
  if (cookieVar !== undefined) {
    const id = ngx.var[cookieVar];
    if (id !== undefined) {
      state.sticky = id;
      const peer = up.byId.get(id);
      if (peer !== undefined && stickyUsable(peer)) return peer;
    }
  }
  return undefined;
}

export function run(): void {
  const state = current()!;
  const up = state.up!;
  const now = ngx.now();
  let tried = state.tried;
  const last = state.peer;
  let peer: Peer | undefined = undefined;
  if (last === undefined) {
    peer = firstTry(state, up);
  } else {
    recordFailure(last);
    up.algo.finished(last, undefined, now);
    leave(last.key);
    state.peer = undefined;
    state.served = undefined;
    if (tried === undefined) {
      tried = new LuaTable();
      state.tried = tried;
    }
    tried.set(last, true);
  }
  const key = state.key;
  if (peer === undefined) peer = up.algo.pick(up.state, forNewClient, tried, key, now);
  if (peer === undefined && up.policy.onAllDown === "any") peer = up.algo.pick(up.state, anyLeft, tried, key, now);
  if (peer === undefined) {
    ngx.log(ngx.ERR, "upstream ", up.name, ": no usable server left to try");
    return giveUp(state, up);
  }
  const [ok, err] = balancer.set_current_peer(peer.ip, peer.port);
  if (!ok) {
    ngx.log(ngx.ERR, "upstream ", up.name, ": cannot use ", peer.addr, ": ", err);
    return giveUp(state, up);
  }
  state.peer = peer;
  state.served = peer.key;
  // sticky: the answer names its server, unless the request's cookie already did (a retry
  // may land elsewhere than the first try, so this is decided per try)
  if (up.stickyVar !== undefined) ngx.var.elb_cookie = state.sticky === peer.id ? "" : up.stickyPrefix + peer.id + up.stickySuffix;
  up.algo.started(peer);
  enter(peer);
}
