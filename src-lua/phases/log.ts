// The log phase: the request leaves its server (in-flight counts, the algorithm's feedback,
// fail_statuses for passive health), then the per-worker Prometheus counts (metrics/aggregate.ts,
// unless ELB_METRICS=off) and statsd aggregation (when STATSD is set). Plain Lua.
import { Peer } from "../core/balancer/peer";
import { domainName, Upstream } from "../config/view";
import { recordFailure } from "../health/passive";
import { leave } from "../health/state";
import * as aggregate from "../metrics/aggregate";
import * as statsd from "../metrics/statsd";
import { current, forget } from "./request";

const prometheus = aggregate.settings;

/** The last number of a list nginx keeps per try ("0.002, 0.010" -> 0.010). */
function lastNumber(list: string | undefined): number | undefined {
  if (list === undefined) return undefined;
  const [last] = string.match(list, "([%d%.]+)%s*$");
  return last === undefined ? undefined : tonumber(last);
}

function finish(up: Upstream, peer: Peer, now: number): void {
  const latency = up.algo.timed ? lastNumber(ngx.var.upstream_header_time) : undefined;
  up.algo.finished(peer, latency, now);
  const statuses = up.failStatuses;
  if (statuses !== undefined) {
    const status = lastNumber(ngx.var.upstream_status);
    if (status !== undefined && statuses.get(status)) recordFailure(peer);
  }
}

export function run(): void {
  const now = ngx.now();
  const state = current();
  let domain: string | undefined;
  let served: string | undefined = undefined;
  if (state !== undefined) {
    domain = state.domain;
    served = state.served;
    const peer = state.peer;
    if (peer !== undefined) {
      leave(peer.key);
      // after nginx's error page the upstream's answer is not one (upstream_error.ts counted the failure)
      if (state.errorPage) state.up!.algo.finished(peer, undefined, now);
      else finish(state.up!, peer, now);
    }
    forget(state);
  }
  const counting = prometheus.enabled;
  if (!counting && !statsd.enabled) return;
  // no state: the access phase did not route this request (an ACME challenge answered here)
  if (state === undefined) domain = domainName(ngx.var.host ?? "");
  const status = ngx.status;
  const seconds = now - ngx.req.start_time();
  if (counting) aggregate.count(domain === undefined ? aggregate.UNMATCHED : domain, served, status, seconds);
  if (domain !== undefined && statsd.enabled) statsd.record(domain, status, seconds * 1000);
}
