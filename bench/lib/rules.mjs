// The routing the benchmark configures: the README's rule graph (ua -> path regex -> backend)
// with four rules, and the same decisions as HAProxy ACLs.

export const DOMAIN = "bench.test";
export const UA_PATTERN = "bench-client/(\\S+)$";
export const PATH_PATTERN = "^/api/(\\S+)$";

/** ua hit -> path regex hit -> up1; any miss -> up2. */
export function ruleSet({ ua = UA_PATTERN, path = PATH_PATTERN, hit = "up1", miss = "up2" } = {}) {
  return {
    init: "ua",
    rules: {
      ua: { type: "ua", args: { pattern: ua, succ: "path", fail: "other" } },
      path: { type: "path", args: { regex: true, pattern: path, succ: "api", fail: "other" } },
      api: { type: "backend", args: { servername: hit } },
      other: { type: "backend", args: { servername: miss } },
    },
  };
}

/**
 * The 10-rule graph of the routing section, one rule of each new matcher on the way (every
 * request walks all of them): header, cookie (regex), query, method, ip, scheme, a limit
 * (never reached: 10^6/s), a split sticky by cookie, two backends.
 */
export const V2_DOMAIN = "v2.bench.test";
export function ruleSetV2() {
  return {
    init: "tenant",
    rules: {
      tenant: { type: "header", args: { name: "X-Tenant", pattern: "acme", succ: "session", fail: "session" } },
      session: { type: "cookie", args: { name: "session", pattern: "^s[0-9a-f]+$", regex: true, succ: "version", fail: "version" } },
      version: { type: "query", args: { name: "v", pattern: "2", succ: "method", fail: "method" } },
      method: { type: "method", args: { methods: ["GET", "HEAD"], succ: "net", fail: "net" } },
      net: { type: "ip", args: { cidrs: ["192.168.0.0/16", "fd00::/8", "10.0.0.0/8"], succ: "scheme", fail: "scheme" } },
      scheme: { type: "scheme", args: { scheme: "http", succ: "limit", fail: "limit" } },
      limit: { type: "limit", args: { rate: 1000000, per: "second", burst: 1000000, succ: "split", fail: "other" } },
      split: { type: "split", args: { hash_on: "cookie:session", branches: [{ weight: 95, next: "api" }, { weight: 5, next: "other" }] } },
      api: { type: "backend", args: { servername: "up1" } },
      other: { type: "backend", args: { servername: "up2" } },
    },
  };
}

/** Domain names for scale runs: d1.bench.test ... dN.bench.test (wrk-spread.lua's default). */
export const SPREAD_FMT = "d%d.bench.test";
export function spreadDomain(i) {
  return `d${i}.bench.test`;
}

/**
 * The rule set of domain i when every domain has its own: the same walk (and patterns), but
 * the miss backend's rule is named other<i>, so no two texts are alike and nothing is shared.
 */
export function distinctRuleSet(i) {
  const rs = ruleSet();
  const other = `other${i}`;
  rs.rules[other] = rs.rules.other;
  delete rs.rules.other;
  rs.rules.ua.args.fail = other;
  rs.rules.path.args.fail = other;
  return rs;
}

/** etcd keys and values for n domains under /<elbName>/: one rule set for all, or (distinct) one each. */
export function* domainEntries(elbName, n, from = 1, { distinct = false } = {}) {
  const value = JSON.stringify(ruleSet());
  for (let i = from; i <= n; i++) yield [`/${elbName}/rules/${spreadDomain(i)}`, distinct ? JSON.stringify(distinctRuleSet(i)) : value];
}

export function upstreamEntries(elbName, upstreams) {
  const out = [];
  for (const [name, servers] of Object.entries(upstreams)) {
    for (const [addr, params] of Object.entries(servers)) out.push([`/${elbName}/upstreams/${name}/${addr}`, params]);
  }
  return out;
}
