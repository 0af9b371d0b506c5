// The management API under /__erulb__/: who may call it, then resource and method.
import { allowed } from "../core/cidr";
import { ByteAt } from "../core/text";
import { settings } from "../node/settings";
import * as cert from "./cert";
import * as changes from "./changes";
import * as domain from "./domain";
import * as dump from "./dump";
import * as fleet from "./fleet";
import * as graph from "./graph";
import * as metrics from "./metrics";
import * as policy from "./policy";
import * as status from "./status";
import * as ui from "./ui";
import * as upstream from "./upstream";
import * as reply from "./reply";

type Handler = (this: void) => void;

const routes: { [resource: string]: { [method: string]: Handler | undefined } } = {
  domain: { GET: domain.get, PUT: domain.put, DELETE: domain.del },
  upstream: { GET: upstream.get, PUT: upstream.put, DELETE: upstream.del },
  dump: { PUT: dump.put },
  policy: { GET: policy.get, PUT: policy.put, DELETE: policy.del },
  status: { GET: status.get },
  metrics: { GET: metrics.get },
  fleet: { GET: fleet.get },
  changes: { GET: changes.get },
  graph: { GET: graph.get },
  cert: { GET: cert.get, PUT: cert.put, DELETE: cert.del },
};

function allowedMethods(resource: { [method: string]: Handler | undefined }): string {
  const names: string[] = [];
  for (const m in resource) names.push(m);
  table.sort(names);
  return names.join(", ");
}

function clientAllowed(): boolean {
  const remote = ngx.var.remote_addr ?? "";
  if (!allowed(remote, settings.adminAllow, string.byte as unknown as ByteAt)) {
    reply.fail(403, `forbidden: ${remote} is not in ELB_ADMIN_ALLOW`);
    return false;
  }
  return true;
}

function authorized(): boolean {
  if (!clientAllowed()) return false;
  const token = settings.adminToken;
  if (token !== undefined && ngx.var.http_authorization !== `Bearer ${token}`) {
    reply.fail(403, "forbidden: a valid Authorization: Bearer <token> header is required");
    return false;
  }
  return true;
}

export function run(): void {
  const uri = ngx.var.uri ?? "";
  // the dashboard's files hold no data: the allow-list applies, the page asks for the token
  if (ui.owns(uri)) return clientAllowed() ? ui.serve(uri) : undefined;
  if (!authorized()) return;
  const [name] = string.match(uri, "^/__erulb__/([%w_]+)/?$");
  const resource = name === undefined ? undefined : routes[name];
  if (resource === undefined) {
    const names: string[] = [];
    for (const r in routes) names.push(r);
    table.sort(names);
    return reply.fail(404, `no such resource: ${uri} (known: /__erulb__/${names.join(", /__erulb__/")})`);
  }
  const method = ngx.req.get_method();
  const handler = resource[method];
  if (handler === undefined) {
    ngx.header["Allow"] = allowedMethods(resource);
    return reply.fail(405, `method ${method} is not allowed on ${uri} (allowed: ${allowedMethods(resource)})`);
  }
  const [ok, err] = pcall(handler);
  if (!ok) {
    ngx.log(ngx.ERR, `admin ${method} ${uri} failed: ${err}`);
    reply.fail(500, `internal error while handling ${method} ${uri}; nothing was changed unless etcd confirmed it (see the error log)`);
  }
}
