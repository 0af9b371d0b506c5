// A server's health as every worker of the node sees it, in the elb_health shared dict:
//   d|<key>  passive: taken out until this key expires (max_fails within fail_timeout)
//   f|<key>  passive: failures counted in the current fail_timeout window
//   s|<key>  active checks: state bits (UNHEALTHY, DRAIN, OFFLINE); absent = 0
//   c|<key>  active checks: "<successes in a row>|<failures in a row>|<node state>|<answers in a row>"
//   t|<key>  active checks: when the last check ended (seconds)
//   r|<key>  when the server last recovered (slow start ramps again from there)
//   a|<key>  requests in flight on the server, on this node
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
  const [v] = dict.get("s|" + peer.key);
  return v === undefined ? 0 : v;
}

/** A request started on the peer (node-wide count, shown as `active`). */
export function enter(peer: Peer): void {
  dict.incr("a|" + peer.key, 1, 0);
}

/** A request on the peer ended (key: the peer's key). */
export function leave(key: string): void {
  const [n] = dict.incr("a|" + key, -1, 0);
  if (n !== undefined && n < 0) dict.set("a|" + key, 0);
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
