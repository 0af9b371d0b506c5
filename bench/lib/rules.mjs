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

/** Domain names for scale runs: d1.bench.test ... dN.bench.test (wrk-spread.lua's default). */
export const SPREAD_FMT = "d%d.bench.test";
export function spreadDomain(i) {
  return `d${i}.bench.test`;
}

/** etcd keys and values for n domains (same rule set) under /<elbName>/. */
export function* domainEntries(elbName, n, from = 1) {
  const value = JSON.stringify(ruleSet());
  for (let i = from; i <= n; i++) yield [`/${elbName}/rules/${spreadDomain(i)}`, value];
}

export function upstreamEntries(elbName, upstreams) {
  const out = [];
  for (const [name, servers] of Object.entries(upstreams)) {
    for (const [addr, params] of Object.entries(servers)) out.push([`/${elbName}/upstreams/${name}/${addr}`, params]);
  }
  return out;
}
