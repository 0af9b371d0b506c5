// Applies one etcd key to this worker's view (config/view.ts): a rule set is validated and
// compiled, a server joins or leaves its upstream and only that upstream's picker is rebuilt.
// The cost of a change does not depend on how many domains or upstreams there are.
import { parseHostPort } from "../core/address";
import { newRoundRobin, Peer } from "../core/balancer/roundrobin";
import { KeyKind, parseKey } from "../core/keys";
import { normalizePolicy } from "../core/policy";
import { Problem } from "../core/problems";
import { compileRuleSet, RuleKind, RuleNode } from "../core/ruleset";
import { parseServerParams } from "../core/server-params";
import { decode } from "./json";
import { resolve } from "./resolve";
import { settings } from "./settings";
import { checkStoredValue } from "./validate";
import { counts, domains, policies, Server, Upstream, upstreams, literals } from "./view";

function describeProblems(problems: Problem[]): string {
  const parts: string[] = [];
  for (const p of problems) parts.push(`${p.path}: ${p.error}`);
  return parts.join("; ");
}

function buildUpstream(name: string, servers: LuaTable<string, Server>): Upstream {
  const addrs: string[] = [];
  for (const [addr] of servers) addrs.push(addr);
  table.sort(addrs);
  const peers: Peer[] = [];
  for (const addr of addrs) {
    const s = servers.get(addr)!;
    const hp = parseHostPort(addr);
    if (typeof hp === "string") continue;
    let ip: string | undefined = hp.host;
    if (!hp.isIp) {
      const [resolved, err] = resolve(hp.host);
      if (resolved === undefined) ngx.log(ngx.ERR, `upstream ${name}: ${err}; ${addr} is left out until it resolves`);
      ip = resolved;
    }
    if (ip !== undefined) peers.push({ addr, ip, port: hp.port, key: `${name}|${addr}`, params: s.params, current: 0 });
  }
  return { name, servers, rr: newRoundRobin(peers), peers };
}

/** The upstream a literal host:port backend stands for (one server, default params). */
function literalUpstream(server: string): Upstream {
  let up = literals.get(server);
  if (up === undefined) {
    const servers = new LuaTable<string, Server>();
    servers.set(server, { addr: server, params: parseServerParams("", "", [])!, raw: "" });
    up = buildUpstream(server, servers);
    literals.set(server, up);
  }
  return up;
}

function linkLiterals(node: RuleNode | undefined, seen: LuaTable<RuleNode, boolean>): void {
  if (node === undefined || seen.get(node)) return;
  seen.set(node, true);
  if (node.kind === RuleKind.Backend && node.literal) literalUpstream(node.server);
  linkLiterals(node.succ, seen);
  linkLiterals(node.fail, seen);
}

function applyRules(domain: string, value: string | undefined): void {
  if (value === undefined) {
    if (domains.has(domain)) counts.domains -= 1;
    domains.delete(domain);
    return;
  }
  const [rs] = decode(value);
  const rules = compileRuleSet(rs);
  linkLiterals(rules.init, new LuaTable());
  if (!domains.has(domain)) counts.domains += 1;
  const [metricName] = string.gsub(domain, "%.", "_");
  domains.set(domain, { name: domain, rules, raw: value, metric: `${settings.elbName}.${metricName}` });
}

function applyServer(name: string, addr: string, value: string | undefined): void {
  const old = upstreams.get(name);
  const servers = new LuaTable<string, Server>();
  let n = 0;
  if (old !== undefined) {
    for (const [a, s] of old.servers) {
      if (a !== addr) {
        servers.set(a, s);
        n += 1;
      }
    }
  }
  if (value !== undefined) {
    servers.set(addr, { addr, params: parseServerParams(value, "", [])!, raw: value });
    n += 1;
  }
  if (n === 0) {
    if (old !== undefined) counts.upstreams -= 1;
    upstreams.delete(name);
    return;
  }
  if (old === undefined) counts.upstreams += 1;
  upstreams.set(name, buildUpstream(name, servers));
}

function applyPolicy(name: string, value: string | undefined): void {
  if (value === undefined) {
    policies.delete(name);
    return;
  }
  const [v] = decode(value);
  policies.set(name, { raw: value, policy: normalizePolicy(v) });
}

/**
 * Brings etcd `key` to `value` (undefined: deleted) in this worker. A value that fails
 * validation is logged and skipped: the last valid one keeps serving.
 */
export function applyKey(key: string, value: string | undefined): boolean {
  const k = parseKey(settings.elbName, key);
  if (k === undefined) return false;
  if (value !== undefined) {
    const problems = checkStoredValue(key, value);
    if (problems.length > 0) {
      ngx.log(ngx.ERR, `skipping invalid value of ${key}: ${describeProblems(problems)}`);
      return false;
    }
  }
  if (k.kind === KeyKind.Rules) applyRules(k.name, value);
  else if (k.kind === KeyKind.Policy) applyPolicy(k.name, value);
  else applyServer(k.name, k.addr, value);
  return true;
}
