// The log phase: per-request statsd aggregation (when STATSD is set). Plain Lua.
import { Domain, domains } from "../config/view";
import * as statsd from "../metrics/statsd";

export function run(): void {
  if (!statsd.enabled) return;
  // after an error_page redirect ngx.ctx is gone: find the domain again
  let domain: Domain | undefined = ngx.ctx.elb_domain;
  if (domain === undefined) domain = domains.get(ngx.var.host ?? "");
  if (domain === undefined) return;
  const cost = (ngx.now() - ngx.req.start_time()) * 1000;
  statsd.record(domain.metric, ngx.status, cost);
}
