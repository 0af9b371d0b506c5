// Passive health, shared by every worker of the node (elb_health shared dict, see state.ts),
// with nginx's meaning of max_fails/fail_timeout: a server that fails max_fails times within
// fail_timeout seconds is not picked for the next fail_timeout seconds. A failure is a
// connect error or a timeout, or an answer whose status the policy's fail_statuses lists.
// Every failure is also counted for Prometheus (a worker-local table, metrics/aggregate.ts).
// Plain Lua: the balancer phase asks state.ts isDown for candidates.
import { Peer } from "../core/balancer/peer";
import { changed, countFailure, takeOut } from "./state";
import { failed } from "../metrics/aggregate";

export function recordFailure(peer: Peer): void {
  failed(peer.key);
  const p = peer.params;
  if (p.maxFails === 0) return;
  const n = countFailure(peer.key, p.failTimeout);
  if (n !== undefined && n >= p.maxFails) {
    const added = takeOut(peer, p.failTimeout);
    ngx.log(ngx.WARN, "server ", peer.addr, " of ", peer.key, " failed ", n, " times: not used for ", p.failTimeout, "s");
    if (added) changed(peer.key, "up", "unhealthy", `${n} failed requests within ${p.failTimeout}s, out for ${p.failTimeout}s`);
  }
}
