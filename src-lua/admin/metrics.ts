// GET /__erulb__/metrics (the admin API's access rules apply), and the ELB_METRICS_LISTEN
// port, which serves GET /metrics and nothing else, to scrapers outside ELB_ADMIN_ALLOW:
// Prometheus' text format 0.0.4 (metrics/exposition.ts).
import { render } from "../metrics/exposition";
import * as reply from "./reply";

function answer(): void {
  ngx.status = 200;
  ngx.header["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8";
  ngx.header["Cache-Control"] = "no-store";
  ngx.print(render());
}

export function get(): void {
  answer();
}

/** The content handler of the metrics port (nginx.conf's ELB_METRICS_LISTEN server). */
export function serve(): void {
  const method = ngx.req.get_method();
  if (ngx.var.uri !== "/metrics") return reply.fail(404, "this port serves GET /metrics only");
  if (method !== "GET" && method !== "HEAD") {
    ngx.header["Allow"] = "GET, HEAD";
    return reply.fail(405, `method ${method} is not allowed on /metrics (allowed: GET, HEAD)`);
  }
  const [ok, err] = pcall(answer);
  if (!ok) {
    ngx.log(ngx.ERR, `GET /metrics failed: ${err}`);
    reply.fail(500, "internal error while rendering the metrics (see the error log)");
  }
}
