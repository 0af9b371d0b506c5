// Passive health, shared by every worker of the node (elb_health shared dict), with nginx's
// meaning of max_fails/fail_timeout: a server that fails max_fails times within
// fail_timeout seconds is not picked for the next fail_timeout seconds. Plain Lua: the
// balancer phase calls isDown for candidates.
import { Peer } from "../core/balancer/roundrobin";

const dict = ngx.shared.elb_health!;

export function isDown(peer: Peer): boolean {
  if (peer.params.maxFails === 0) return false;
  const [v] = dict.get("d|" + peer.key);
  return v !== undefined;
}

export function recordFailure(peer: Peer): void {
  const p = peer.params;
  if (p.maxFails === 0) return;
  const [n] = dict.incr("f|" + peer.key, 1, 0, p.failTimeout);
  if (n !== undefined && n >= p.maxFails) {
    dict.set("d|" + peer.key, true, p.failTimeout);
    dict.delete("f|" + peer.key);
    ngx.log(ngx.WARN, "server ", peer.addr, " of ", peer.key, " failed ", n, " times: not used for ", p.failTimeout, "s");
  }
}
