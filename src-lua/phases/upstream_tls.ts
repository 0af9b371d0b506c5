// HTTPS upstreams (policy "tls"). nginx fixes proxy_pass's scheme and proxy_ssl_verify per
// location, so the access phase hands such a request to a named location that speaks TLS
// (nginx/locations.conf: @elb_tls, or @elb_tls_verify when the policy verifies), with the SNI
// name in $elb_tls_name. The jump is an internal redirect, which empties ngx.ctx: the balancer
// finds the upstream again by $elb_upstream. Plain Lua.
import { UpstreamTls } from "../core/policy";
import { Upstream, upstreams } from "../config/view";

export function toTls(up: Upstream, tls: UpstreamTls): void {
  ngx.var.elb_upstream = up.name;
  ngx.var.elb_tls_name = tls.serverName ?? ngx.var.host ?? "";
  return ngx.exec(tls.verify ? "@elb_tls_verify" : "@elb_tls");
}

/** The balancer phase after the jump: the upstream the access phase chose (undefined: removed since). */
export function jumpedUpstream(ctx: { [key: string]: any }): Upstream | undefined {
  const up = upstreams.get(ngx.var.elb_upstream ?? "");
  ctx.elb_up = up;
  return up;
}
