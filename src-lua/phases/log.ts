// The log phase: the request leaves its server (in-flight counts, the algorithm's feedback,
// fail_statuses for passive health), then the per-worker Prometheus counts (metrics/aggregate.ts,
// unless ELB_METRICS=off) and statsd aggregation (when STATSD is set). Plain Lua.
import { Peer } from "../core/balancer/peer";
import { Domain, lookupDomain, peerByKey, Upstream } from "../config/view";
import { recordFailure } from "../health/passive";
import { leave } from "../health/state";
import * as aggregate from "../metrics/aggregate";
import * as statsd from "../metrics/statsd";

const prometheus = aggregate.settings;

/** The last number of a list nginx keeps per try ("0.002, 0.010" -> 0.010). */
function lastNumber(list: string | undefined): number | undefined {
  if (list === undefined) return undefined;
  const [last] = string.match(list, "([%d%.]+)%s*$");
  return last === undefined ? undefined : tonumber(last);
}

function finish(up: Upstream, peer: Peer): void {
  const now = ngx.now();
  const latency = up.algo.timed ? lastNumber(ngx.var.upstream_header_time) : undefined;
  up.algo.finished(peer, latency, now);
  const statuses = up.failStatuses;
  if (statuses !== undefined) {
    const status = lastNumber(ngx.var.upstream_status);
    if (status !== undefined && statuses.get(status)) recordFailure(peer);
  }
}

/** After an error_page jump ngx.ctx is gone: the peer is found again by its key. */
function finishByKey(key: string): void {
  leave(key);
  const [up, peer] = peerByKey(key);
  if (peer === undefined) return;
  up!.algo.finished(peer, undefined, ngx.now());
}

export function run(): void {
  const ctx = ngx.ctx;
  const peer: Peer | undefined = ctx.elb_peer;
  let served: string | undefined = undefined;
  if (peer !== undefined) {
    served = peer.key;
    leave(served);
    finish(ctx.elb_up, peer);
  } else {
    const key = ngx.var.elb_peer;
    if (key !== undefined && key !== "") {
      finishByKey(key);
      served = key;
    }
  }
  const counting = prometheus.enabled;
  if (!counting && !statsd.enabled) return;
  // after an error_page redirect ngx.ctx is gone: find the domain again
  let domain: Domain | undefined = ctx.elb_domain;
  if (domain === undefined) domain = lookupDomain(ngx.var.host ?? "");
  const status = ngx.status;
  const seconds = ngx.now() - ngx.req.start_time();
  if (counting) aggregate.count(domain === undefined ? aggregate.UNMATCHED : domain.name, served, status, seconds);
  if (domain !== undefined && statsd.enabled) statsd.record(domain.metric, status, seconds * 1000);
}
