// A server's health as every worker of the node sees it, in the elb_health shared dict:
//   d|<key>  passive: taken out until this key expires (max_fails within fail_timeout)
//   f|<key>  passive: failures counted in the current fail_timeout window
//   s|<key>  active checks: state bits (UNHEALTHY, DRAIN, OFFLINE); absent = 0
//   c|<key>  active checks: "<successes in a row>|<failures in a row>|<node state>|<answers in a row>"
//   t|<key>  active checks: when the last check ended (seconds)
//   r|<key>  when the server last recovered (slow start ramps again from there)
//   a|<key>|<worker id>  requests in flight on the server in that worker, published by it
//            every PUBLISH_EVERY polls (a shared-dict write per request would cost more
//            than the rest of the balancer phase); the node's count is their sum
//   n|<key>  how many times the server changed state;  changes = the node's total
// <key> is the peer's key, "<upstream>|<host:port>". Plain Lua (hot path).
import { Peer } from "../core/balancer/peer";

const dict = ngx.shared.elb_health!;

export const UNHEALTHY = 1;
export const DRAIN = 2;
export const OFFLINE = 4;

/** The active-check state bits of a peer (0 when no check runs for it). */
export function checkBits(peer: Peer): number {
  if (!peer.checked) return 0;
  const [v] = dict.get(peer.stateKey);
  return v === undefined ? 0 : v;
}

/** This worker's requests in flight, by peer key, and the keys changed since the last publish. */
const inflight = new LuaTable<string, number>();
let changedKeys = new LuaTable<string, boolean>();

/** A request started on the peer (shown as `active`, summed over the node's workers). */
export function enter(peer: Peer): void {
  const key = peer.key;
  inflight.set(key, (inflight.get(key) ?? 0) + 1);
  changedKeys.set(key, true);
}

/** A request on the peer (key: the peer's key) ended. */
export function leave(key: string): void {
  const n = (inflight.get(key) ?? 0) - 1;
  inflight.set(key, n > 0 ? n : 0);
  changedKeys.set(key, true);
}

function workerId(): number {
  return ngx.worker.id() ?? 0;
}

/** Writes this worker's changed in-flight counts to the shared dict. */
export function publishInflight(): void {
  if (next(changedKeys)[0] === undefined) return;
  const suffix = "|" + workerId();
  for (const [key] of changedKeys) {
    const n = inflight.get(key) ?? 0;
    if (n > 0) dict.set("a|" + key + suffix, n);
    else dict.delete("a|" + key + suffix);
  }
  changedKeys = new LuaTable();
}

/** A new worker forgets what an earlier worker with its id published (its requests are gone). */
export function forgetInflight(): void {
  const suffix = "|" + workerId();
  for (const k of dict.get_keys(0)) {
    if (string.sub(k, 1, 2) === "a|" && string.sub(k, -suffix.length) === suffix) dict.delete(k);
  }
}

/** Requests in flight on the peer, on this node (as last published by each worker). */
export function activeOnNode(key: string): number {
  let total = 0;
  for (let w = 0; w < ngx.worker.count(); w++) {
    const [n] = dict.get("a|" + key + "|" + w);
    if (n !== undefined) total = total + n;
  }
  return total;
}

/** Slow start: when the peer last recovered, if that is later than it joined. */
export function refreshSince(peer: Peer): void {
  const [r] = dict.get("r|" + peer.key);
  if (r !== undefined && r > peer.since) peer.since = r;
}

/** Counts and logs a change of a server's state. */
export function changed(key: string, from: string, to: string, why: string): void {
  dict.incr("n|" + key, 1, 0);
  dict.incr("changes", 1, 0);
  ngx.log(ngx.WARN, "health: server ", key, ": ", from, " -> ", to, " (", why, ")");
}
