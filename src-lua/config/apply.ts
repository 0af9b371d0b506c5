// Applies one etcd key to this worker's view (config/view.ts): a rule set is validated and
// compiled, a server joins or leaves its upstream and only that upstream's picker is rebuilt.
// The cost of a change does not depend on how many domains or upstreams there are.
import { parseHostPort } from "../core/address";
import { ByteAt } from "../core/balancer/algorithm";
import { newPeer, Peer, usableCount } from "../core/balancer/peer";
import { algorithms } from "../core/balancer/algorithms";
import { certs as certKind, challenges as challengeKind, checkStored, domains as domainKind, KeyRef, keyOf, Kind, KINDS, parseKey, policies as policyKind, servers as serverKind } from "../core/kinds/index";
import { defaultPolicy, normalizePolicy, Policy } from "../core/policy";
import { Problem } from "../core/problems";
import { compileRuleSet, RuleKind, RuleNode, successors } from "../core/ruleset";
import { nestedQuantifier } from "../core/rules/regex-lint";
import { parseServerParams } from "../core/server-params";
import { fillKeys } from "../health/state";
import { decode } from "./json";
import { resolve } from "../node/resolve";
import { settings } from "../node/settings";
import { applyCert } from "./certs";
import { certs, challenges, counts, Domain, domains, hostIndex, policies, RuleSet, Server, Upstream, upstreams, literals, wildcards } from "./view";

function describeProblems(problems: Problem[]): string {
  const parts: string[] = [];
  for (const p of problems) parts.push(`${p.path}: ${p.error}`);
  return parts.join("; ");
}

const DEFAULT_POLICY = defaultPolicy();

/** The value of the sticky cookie that names a server: opaque, stable across nodes and workers. */
function stickyId(upstream: string, addr: string): string {
  return string.sub(ngx.md5(`${upstream}|${addr}`), 1, 16);
}

/**
 * The upstream `name` with these servers, under its policy. Per-worker runtime state that must
 * survive a rebuild (when a server joined, the latency seen) is carried over from `old`;
 * a server that was not in `old` joined now (slow start ramps from here).
 */
function buildUpstream(name: string, servers: LuaTable<string, Server>, old: Upstream | undefined, stored: Policy | undefined): Upstream {
  const policy = stored ?? DEFAULT_POLICY;
  const previous = new LuaTable<string, Peer>();
  if (old !== undefined) for (const p of old.peers) previous.set(p.addr, p);
  const now = ngx.now();
  const addrs: string[] = [];
  for (const [addr] of servers) addrs.push(addr);
  table.sort(addrs);
  const peers: Peer[] = [];
  const byId = new LuaTable<string, Peer>();
  let slowStart = false;
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
    if (ip === undefined) continue;
    const p = newPeer(addr, ip, hp.port, `${name}|${addr}`, s.params);
    fillKeys(p);
    const was = previous.get(addr);
    p.since = was !== undefined ? was.since : now;
    if (was !== undefined) {
      p.ewma = was.ewma;
      p.ewmaAt = was.ewmaAt;
    }
    p.checked = policy.healthcheck !== undefined;
    p.id = stickyId(name, addr);
    byId.set(p.id, p);
    if (s.params.slowStart > 0) slowStart = true;
    peers.push(p);
  }
  const algo = algorithms[policy.algorithm] ?? algorithms["roundrobin"]!;
  const state = algo.create(peers, { byteAt: string.byte as unknown as ByteAt, seed: math.random(1, 2147483646) });
  let failStatuses: LuaTable<number, boolean> | undefined = undefined;
  if (policy.failStatuses.length > 0) {
    failStatuses = new LuaTable();
    for (const st of policy.failStatuses) failStatuses.set(st, true);
  }
  const sticky = policy.sticky;
  return {
    name,
    servers,
    peers,
    policy,
    algo,
    state,
    usable: usableCount(peers),
    stickyVar: sticky === undefined ? undefined : `cookie_${sticky.cookie}`,
    stickyPrefix: sticky === undefined ? "" : `${sticky.cookie}=`,
    stickySuffix: sticky === undefined ? "" : `; Path=/; HttpOnly${sticky.ttl > 0 ? `; Max-Age=${sticky.ttl}` : ""}`,
    byId,
    slowStart,
    failStatuses,
  };
}

/** The upstream a literal host:port backend stands for (one server, default params). */
function literalUpstream(server: string): Upstream {
  let up = literals.get(server);
  if (up === undefined) {
    const servers = new LuaTable<string, Server>();
    servers.set(server, { addr: server, params: parseServerParams("", "", [])!, raw: "" });
    up = buildUpstream(server, servers, undefined, undefined);
    literals.set(server, up);
  }
  return up;
}

/** Makes the literal upstreams of a graph's backends; logs (from the first worker) regexes that can backtrack without bound. */
function prepare(domain: string, node: RuleNode | undefined, seen: LuaTable<RuleNode, boolean>): void {
  if (node === undefined || seen.get(node)) return;
  seen.set(node, true);
  if (node.kind === RuleKind.Backend && node.literal) literalUpstream(node.server);
  if (node.regex && ngx.worker.id() === 0) {
    const risky = nestedQuantifier(node.pattern);
    if (risky !== undefined) ngx.log(ngx.WARN, `domain ${domain}: rule ${node.name}: the regex ${node.pattern} has nested unbounded quantifiers (${risky}); its matches will often be cut off at the match limit`);
  }
  for (const next of successors(node)) prepare(domain, next, seen);
}

/** the rule sets in use, by their stored text (weak: one that no domain uses any more goes) */
const compiled = setmetatable(new LuaTable<string, RuleSet>(), { __mode: "v" });

/** Labels in a name: dots + 1. */
function labelsOf(name: string): number {
  const [, dots] = string.gsub(name, "%.", "");
  return dots + 1;
}

/** how many wildcards have a suffix of each number of labels (hostIndex.depth is the largest) */
const wildcardDepths = new LuaTable<number, number>();

/** Keeps the wildcard and default lookups (config/view.ts hostIndex) in step with `domains`. */
function indexHost(name: string, d: Domain | undefined): void {
  if (name === "*") {
    hostIndex.fallback = d;
    return;
  }
  if (string.sub(name, 1, 2) !== "*.") return;
  const suffix = string.sub(name, 3);
  const had = wildcards.has(suffix);
  const depth = labelsOf(suffix);
  if (d === undefined) {
    if (!had) return;
    wildcards.delete(suffix);
    hostIndex.wildcards -= 1;
    wildcardDepths.set(depth, (wildcardDepths.get(depth) ?? 1) - 1);
    while (hostIndex.depth > 0 && (wildcardDepths.get(hostIndex.depth) ?? 0) === 0) hostIndex.depth -= 1;
    return;
  }
  if (!had) {
    hostIndex.wildcards += 1;
    wildcardDepths.set(depth, (wildcardDepths.get(depth) ?? 0) + 1);
    if (depth > hostIndex.depth) hostIndex.depth = depth;
  }
  wildcards.set(suffix, d);
}

function applyRules(domain: string, value: string | undefined): void {
  if (value === undefined) {
    if (domains.has(domain)) counts.domains -= 1;
    domains.delete(domain);
    indexHost(domain, undefined);
    return;
  }
  // domains often share a rule set: one compiled graph (never changed once built) serves all
  let rs = compiled.get(value);
  if (rs === undefined) {
    const [doc] = decode(value);
    const rules = compileRuleSet(doc);
    prepare(domain, rules.init, new LuaTable());
    rs = { rules, raw: value };
    compiled.set(value, rs);
  }
  if (!domains.has(domain)) counts.domains += 1;
  domains.set(domain, rs);
  // a Host does not name a wildcard or the default: those keep their name beside the rule set
  if (string.byte(domain, 1) === 42) indexHost(domain, { name: domain, rules: rs.rules, raw: value });
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
  upstreams.set(name, buildUpstream(name, servers, old, policies.get(name)?.policy));
}

/** A policy changed: stored for its upstream (which may come later), which is rebuilt under it. */
function applyPolicy(name: string, value: string | undefined): void {
  let policy: Policy | undefined = undefined;
  if (value === undefined) {
    policies.delete(name);
  } else {
    const [v] = decode(value);
    policy = normalizePolicy(v);
    policies.set(name, { raw: value, policy });
  }
  const up = upstreams.get(name);
  if (up !== undefined) upstreams.set(name, buildUpstream(name, up.servers, up, policy));
}

/** Each kind's apply step: brings one key of it to `value` (undefined: deleted) in this worker. */
const appliers: { [kind: string]: (this: void, ref: KeyRef, value: string | undefined) => void } = {
  domain: (ref, value) => applyRules(ref.name, value),
  server: (ref, value) => applyServer(ref.name, ref.member, value),
  policy: (ref, value) => applyPolicy(ref.name, value),
  cert: (ref, value) => applyCert(ref.name, value),
  challenge: (ref, value) => {
    if (value === undefined) challenges.delete(ref.name);
    else challenges.set(ref.name, value);
  },
};

/** Grouped kinds: the keys of a group's members as this worker holds them. */
const members: { [kind: string]: (this: void, name: string) => string[] } = {
  server: (name) => {
    const keys: string[] = [];
    const up = upstreams.get(name);
    if (up !== undefined) for (const [addr] of up.servers) keys.push(keyOf(settings.elbName, serverKind, name, addr));
    return keys;
  },
};

export function memberKeys(kind: Kind, name: string): string[] {
  return members[kind.id](name);
}

type Add = (this: void, key: string, text: string) => void;

/** Each kind's values as this worker holds them, as stored in etcd (for the snapshot). */
const stored: { [kind: string]: (this: void, add: Add) => void } = {
  domain: (add) => {
    for (const [name, d] of domains) add(keyOf(settings.elbName, domainKind, name), d.raw);
  },
  server: (add) => {
    for (const [name, up] of upstreams) for (const [addr, s] of up.servers) add(keyOf(settings.elbName, serverKind, name, addr), s.raw);
  },
  policy: (add) => {
    for (const [name, p] of policies) add(keyOf(settings.elbName, policyKind, name), p.raw);
  },
  cert: (add) => {
    for (const [name, c] of certs) add(keyOf(settings.elbName, certKind, name), c.raw);
  },
  challenge: (add) => {
    for (const [token, auth] of challenges) add(keyOf(settings.elbName, challengeKind, token), auth);
  },
};

export function eachStored(add: Add): void {
  for (const kind of KINDS) stored[kind.id](add);
}

/**
 * Brings etcd `key` to `value` (undefined: deleted) in this worker. A value that fails
 * validation is logged and skipped: the last valid one keeps serving. `checked`: the value
 * comes from the node's store, which admits only values that passed the same validation.
 */
export function applyKey(key: string, value: string | undefined, checked?: boolean): boolean {
  const ref = parseKey(settings.elbName, key);
  if (ref === undefined) return false;
  if (value !== undefined && !checked) {
    const problems = checkStored(settings.elbName, key, value);
    if (problems.length > 0) {
      ngx.log(ngx.ERR, `skipping invalid value of ${key}: ${describeProblems(problems)}`);
      return false;
    }
  }
  appliers[ref.kind.id](ref, value);
  return true;
}
