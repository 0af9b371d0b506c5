// Passive health, shared by every worker of the node (elb_health shared dict, see state.ts),
// with nginx's meaning of max_fails/fail_timeout: a server that fails max_fails times within
// fail_timeout seconds is not picked for the next fail_timeout seconds. A failure is a
// connect error or a timeout, or an answer whose status the policy's fail_statuses lists.
// Plain Lua: the balancer phase calls isDown for candidates.
import { Peer } from "../core/balancer/peer";
import { changed } from "./state";

const dict = ngx.shared.elb_health!;

export function isDown(peer: Peer): boolean {
  if (peer.params.maxFails === 0) return false;
  const [v] = dict.get(peer.downKey);
  return v !== undefined;
}

export function recordFailure(peer: Peer): void {
  const p = peer.params;
  if (p.maxFails === 0) return;
  const [n] = dict.incr("f|" + peer.key, 1, 0, p.failTimeout);
  if (n !== undefined && n >= p.maxFails) {
    const [added] = dict.add(peer.downKey, true, p.failTimeout);
    dict.delete("f|" + peer.key);
    // slow start ramps again when it comes back
    dict.set("r|" + peer.key, ngx.now() + p.failTimeout);
    ngx.log(ngx.WARN, "server ", peer.addr, " of ", peer.key, " failed ", n, " times: not used for ", p.failTimeout, "s");
    if (added) changed(peer.key, "up", "unhealthy", `${n} failed requests within ${p.failTimeout}s, out for ${p.failTimeout}s`);
  }
}
