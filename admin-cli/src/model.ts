// The routing configuration as elbctl sees it: read from etcd, validated with the engine's own
// core (src-lua/core), and planned as one transaction of differences.
import { parseHostPort } from "../../src-lua/core/address";
import { KeyKind, parseKey, policyKey, rulesKey, serverKey } from "../../src-lua/core/keys";
import { checkDomain, checkUpstreamName } from "../../src-lua/core/names";
import { validatePolicy } from "../../src-lua/core/policy";
import { describe, pointer, type Problem } from "../../src-lua/core/problems";
import { validateRuleSet } from "../../src-lua/core/ruleset";
import { parseServerParams } from "../../src-lua/core/server-params";
import type { Guard, Kv, Op, Store } from "./etcd";
import { jsRegexCheck } from "./js-regex";

export type { Problem };

/** The declarative file of `apply` and `export`. */
export interface Config {
  domains: Record<string, unknown>;
  upstreams: Record<string, Record<string, string>>;
  policies: Record<string, unknown>;
}

export interface Current {
  domains: Map<string, Kv>;
  /** upstream -> host:port -> key */
  upstreams: Map<string, Map<string, Kv>>;
  policies: Map<string, Kv>;
  revision: number;
}

export async function readCurrent(store: Store): Promise<Current> {
  const { kvs, revision } = await store.range(store.root);
  const cur: Current = { domains: new Map(), upstreams: new Map(), policies: new Map(), revision };
  for (const kv of kvs) {
    const k = parseKey(store.elbName, kv.key);
    if (!k) continue;
    if (k.kind === KeyKind.Rules) cur.domains.set(k.name, kv);
    else if (k.kind === KeyKind.Policy) cur.policies.set(k.name, kv);
    else {
      let m = cur.upstreams.get(k.name);
      if (!m) cur.upstreams.set(k.name, (m = new Map()));
      m.set(k.addr, kv);
    }
  }
  return cur;
}

export async function readUpstream(store: Store, name: string): Promise<Map<string, Kv>> {
  const prefix = `${store.root}upstreams/${name}/`;
  const { kvs } = await store.range(prefix);
  const m = new Map<string, Kv>();
  for (const kv of kvs) {
    const addr = kv.key.substring(prefix.length);
    if (addr !== "" && !addr.includes("/")) m.set(addr, kv);
  }
  return m;
}

// ---- validation, with the engine's code ------------------------------------------------------

export function checkRuleSet(domain: string, rs: unknown, at: string, problems: Problem[]): void {
  const err = checkDomain(domain);
  if (err !== undefined) problems.push({ path: at, error: err });
  validateRuleSet(rs, at, jsRegexCheck, problems);
}

export function checkServer(addr: string, params: unknown, at: string, problems: Problem[]): void {
  const hp = parseHostPort(addr);
  if (typeof hp === "string") problems.push({ path: at, error: `invalid host:port: ${hp}` });
  parseServerParams(params, at, problems);
}

export function checkName(name: string, at: string, problems: Problem[]): boolean {
  const err = checkUpstreamName(name);
  if (err !== undefined) problems.push({ path: at, error: err });
  return err === undefined;
}

export function checkPolicy(upstream: string, v: unknown, at: string, problems: Problem[]): void {
  checkName(upstream, at, problems);
  validatePolicy(v, at, problems);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Every problem of a whole configuration file, as JSON pointers into it. */
export function validateConfig(v: unknown, problems: Problem[]): Config | undefined {
  const before = problems.length;
  if (!isObj(v)) {
    problems.push({ path: "", error: `the configuration must be an object with domains, upstreams and policies, got ${describe(v)}` });
    return undefined;
  }
  for (const k of Object.keys(v).sort()) {
    if (k !== "domains" && k !== "upstreams" && k !== "policies") problems.push({ path: pointer("", k), error: "unknown section (known: domains, upstreams, policies)" });
  }
  const section = (name: string): Record<string, unknown> => {
    const s = v[name];
    if (s === undefined || s === null) return {};
    if (!isObj(s)) {
      problems.push({ path: pointer("", name), error: `must be an object keyed by name, got ${describe(s)}` });
      return {};
    }
    return s;
  };
  const domains = section("domains");
  const upstreams = section("upstreams");
  const policies = section("policies");
  for (const d of Object.keys(domains).sort()) checkRuleSet(d, domains[d], pointer("/domains", d), problems);
  for (const u of Object.keys(upstreams).sort()) {
    const at = pointer("/upstreams", u);
    checkName(u, at, problems);
    const servers = upstreams[u];
    if (!isObj(servers)) {
      problems.push({ path: at, error: `must be an object of "host:port": "params", got ${describe(servers)}` });
      continue;
    }
    const addrs = Object.keys(servers).sort();
    if (addrs.length === 0) problems.push({ path: at, error: "an upstream needs at least one server (to remove it, leave it out and use --prune)" });
    for (const a of addrs) {
      const p = servers[a] === null ? "" : servers[a];
      checkServer(a, p, pointer(at, a), problems);
    }
  }
  for (const u of Object.keys(policies).sort()) checkPolicy(u, policies[u], pointer("/policies", u), problems);
  if (problems.length > before) return undefined;
  const ups: Config["upstreams"] = {};
  for (const u of Object.keys(upstreams)) {
    const s = upstreams[u] as Record<string, unknown>;
    ups[u] = {};
    for (const a of Object.keys(s)) ups[u][a] = s[a] === null ? "" : (s[a] as string);
  }
  return { domains, upstreams: ups, policies };
}

// ---- export and planning ---------------------------------------------------------------------

function decode(kv: Kv, warnings: string[]): unknown {
  try {
    return JSON.parse(kv.value);
  } catch {
    warnings.push(`${kv.key} does not hold valid JSON; exported as a string`);
    return kv.value;
  }
}

export function exportConfig(cur: Current, warnings: string[] = []): Config {
  const out: Config = { domains: {}, upstreams: {}, policies: {} };
  for (const d of [...cur.domains.keys()].sort()) out.domains[d] = decode(cur.domains.get(d)!, warnings);
  for (const u of [...cur.upstreams.keys()].sort()) {
    const m = cur.upstreams.get(u)!;
    out.upstreams[u] = {};
    for (const a of [...m.keys()].sort()) out.upstreams[u][a] = m.get(a)!.value;
  }
  for (const u of [...cur.policies.keys()].sort()) out.policies[u] = decode(cur.policies.get(u)!, warnings);
  return out;
}

/** JSON with object keys sorted: two values are the same configuration when this agrees. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (isObj(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
  return JSON.stringify(v);
}

export interface Change {
  action: "add" | "change" | "remove";
  kind: "domain" | "server" | "policy";
  name: string;
  /** server only */
  addr?: string;
  key: string;
  before?: string;
  after?: string;
}

export interface Plan {
  changes: Change[];
  ops: Op[];
  guards: Guard[];
}

export function plan(elbName: string, cur: Current, want: Config, prune: boolean): Plan {
  const p: Plan = { changes: [], ops: [], guards: [] };
  const put = (c: Change, value: string, kv: Kv | undefined) => {
    p.changes.push({ ...c, action: kv ? "change" : "add", before: kv?.value, after: value });
    p.ops.push({ put: c.key, value });
    p.guards.push({ key: c.key, modRevision: kv?.modRevision ?? 0 });
  };
  const del = (c: Change, kv: Kv) => {
    p.changes.push({ ...c, action: "remove", before: kv.value });
    p.ops.push({ del: c.key });
    p.guards.push({ key: c.key, modRevision: kv.modRevision });
  };
  const sameJson = (kv: Kv, v: unknown) => {
    try {
      return canonical(JSON.parse(kv.value)) === canonical(v);
    } catch {
      return false;
    }
  };
  for (const d of Object.keys(want.domains).sort()) {
    const kv = cur.domains.get(d);
    if (!kv || !sameJson(kv, want.domains[d])) put({ action: "add", kind: "domain", name: d, key: rulesKey(elbName, d) }, JSON.stringify(want.domains[d]), kv);
  }
  if (prune) {
    for (const [d, kv] of cur.domains) if (!(d in want.domains)) del({ action: "remove", kind: "domain", name: d, key: kv.key }, kv);
  }
  const names = new Set([...Object.keys(want.upstreams), ...(prune ? cur.upstreams.keys() : [])]);
  for (const u of [...names].sort()) {
    const have = cur.upstreams.get(u) ?? new Map<string, Kv>();
    const servers = want.upstreams[u] ?? {};
    for (const a of Object.keys(servers).sort()) {
      const kv = have.get(a);
      if (!kv || kv.value !== servers[a]) put({ action: "add", kind: "server", name: u, addr: a, key: serverKey(elbName, u, a) }, servers[a], kv);
    }
    for (const [a, kv] of [...have].sort()) if (!(a in servers)) del({ action: "remove", kind: "server", name: u, addr: a, key: kv.key }, kv);
  }
  for (const u of Object.keys(want.policies).sort()) {
    const kv = cur.policies.get(u);
    if (!kv || !sameJson(kv, want.policies[u])) put({ action: "add", kind: "policy", name: u, key: policyKey(elbName, u) }, JSON.stringify(want.policies[u]), kv);
  }
  if (prune) {
    for (const [u, kv] of cur.policies) if (!(u in want.policies)) del({ action: "remove", kind: "policy", name: u, key: kv.key }, kv);
  }
  return p;
}
