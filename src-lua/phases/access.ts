// The access phase: Host -> the domain's compiled rule graph -> walk ua/path rules to a
// backend -> the upstream for the balancer phase. Plain Lua: no lualib, no closures.
import { RuleKind, RuleNode } from "../core/ruleset";
import { domains, literals, upstreams, Upstream } from "../config/view";
import { toTls } from "./upstream_tls";

const reFind = ngx.re.find;
const reMatch = ngx.re.match;
const captures = new LuaTable<number, string | false>();

function deny(status: number, body: string): void {
  ngx.status = status;
  ngx.header["Content-Type"] = "application/json";
  ngx.say(body);
  ngx.exit(status);
}

function rewriteTo(capture: string | false | undefined): void {
  let path = "/";
  if (capture !== undefined && capture !== false) {
    path = string.sub(capture, 1, 1) === "/" ? capture : "/" + capture;
  }
  ngx.req.set_uri(path, false);
}

export function run(): void {
  const host = ngx.var.host ?? "";
  const domain = domains.get(host);
  if (domain === undefined) {
    return deny(404, '{"msg":"no rule set for this domain"}');
  }
  const ctx = ngx.ctx;
  ctx.elb_domain = domain;
  let node: RuleNode | undefined = domain.rules.init;
  let steps = domain.rules.maxSteps;
  while (node !== undefined && steps > 0) {
    steps = steps - 1;
    const kind = node.kind;
    if (kind === RuleKind.Backend) {
      let up: Upstream | undefined;
      if (node.literal) up = literals.get(node.server);
      else up = upstreams.get(node.server);
      if (up === undefined || up.usable === 0) {
        return deny(502, '{"msg":"the backend\'s upstream does not exist or has no usable server"}');
      }
      const names = node.headerNames;
      for (let i = 0; i < names.length; i++) ngx.req.set_header(names[i], node.headerValues[i]);
      ctx.elb_up = up;
      if (up.policy.tls !== undefined) return toTls(up, up.policy.tls);
      return;
    }
    let hit = false;
    if (kind === RuleKind.Ua) {
      const ua = ngx.var.http_user_agent;
      if (ua !== undefined) hit = reFind(ua, node.pattern, "joi")[0] !== undefined;
    } else {
      const uri = ngx.var.uri ?? "/";
      if (!node.regex) {
        hit = string.sub(uri, 1, node.pattern.length) === node.pattern;
      } else if (node.rewrite) {
        captures.set(1, false); // the table is reused: no group must not read a stale one
        const [m] = reMatch(uri, node.pattern, "jo", undefined, captures);
        if (m !== undefined) {
          hit = true;
          rewriteTo(m.get(1));
        }
      } else {
        hit = reFind(uri, node.pattern, "jo")[0] !== undefined;
      }
    }
    node = hit ? node.succ : node.fail;
  }
  return deny(403, '{"msg":"no rule led to a backend"}');
}
