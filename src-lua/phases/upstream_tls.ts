// HTTPS upstreams (policy "tls"). nginx fixes proxy_pass's scheme and proxy_ssl_verify per
// location, so the access phase hands such a request over to a named location that speaks TLS
// (nginx/locations.conf: @elb_tls, or @elb_tls_verify when the policy verifies), as it does
// for set_response_headers (@elb_response_headers), with the SNI name in $elb_tls_name. Plain Lua.
import { Upstream } from "../config/view";

/** The location a request to `up` is handed over to (its backend rule sets response headers, or `up` speaks TLS). */
export function handoffTo(up: Upstream): string {
  const tls = up.policy.tls;
  if (tls === undefined) return "@elb_response_headers";
  ngx.var.elb_tls_name = tls.serverName ?? ngx.var.host ?? "";
  return tls.verify ? "@elb_tls_verify" : "@elb_tls";
}
