// The management API under /__erulb__/: the path as sent (only its own paths reach it), who
// may call it (admin/guard.ts), then resource and method; writes take one of the node's slots.
import { clientRefusal, refusal, releaseWriteSlot, takeWriteSlot } from "./guard";
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

/**
 * The path as the client sent it, before nginx decoded and normalized it: the API answers only
 * on /__erulb__/<resource>, not on /%5F_erulb__/..., //__erulb__/... or /x/../__erulb__/...
 */
function rawPath(): string {
  const raw = ngx.var.request_uri ?? "";
  const [q] = string.find(raw, "?", 1, true);
  return q === undefined ? raw : string.sub(raw, 1, q - 1);
}

export function run(): void {
  const uri = rawPath();
  if (uri !== "/__erulb__" && string.sub(uri, 1, 11) !== "/__erulb__/") return reply.fail(404, "no such path");
  // the dashboard's files hold no data: the allow-list applies, the page asks for the token
  if (ui.owns(uri)) {
    const denied = clientRefusal();
    return denied === undefined ? ui.serve(uri) : reply.fail(403, denied);
  }
  const why = refusal();
  if (why !== undefined) return reply.fail(403, why);
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
  let slot: string | undefined = undefined;
  if (method !== "GET" && method !== "HEAD") {
    slot = takeWriteSlot();
    if (slot === undefined) {
      ngx.header["Retry-After"] = "1";
      return reply.fail(429, `this node is handling as many admin writes as it takes at once (ELB_ADMIN_MAX_WRITES): try again in a second`);
    }
  }
  const [ok, err] = pcall(handler);
  if (slot !== undefined) releaseWriteSlot(slot);
  if (!ok) {
    ngx.log(ngx.ERR, `admin ${method} ${uri} failed: ${err}`);
    reply.fail(500, `internal error while handling ${method} ${uri}; nothing was changed unless etcd confirmed it (see the error log)`);
  }
}
