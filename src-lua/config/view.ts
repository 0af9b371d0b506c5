// What one worker routes by: compiled domains and upstreams, keyed by name. The access and
// balancer phases read these tables (the ssl_certificate phase the certificates); config/apply.ts
// is the only writer. Plain Lua.
import { CompiledRuleSet } from "../core/ruleset";
import { Algorithm, AlgorithmState } from "../core/balancer/algorithm";
import { Peer } from "../core/balancer/peer";
import { Policy } from "../core/policy";
import { ServerParams } from "../core/server-params";
import { CertSummary } from "../core/certs";

/**
 * A rule set as stored and compiled, one per distinct text: every domain that stores the same
 * text routes by the same one. A domain costs this worker its name and one table slot, not a
 * record of its own (100,000 domains: 24 MiB less).
 */
export interface RuleSet {
  rules: CompiledRuleSet;
  /** the rule set's JSON as stored, returned by GET /__erulb__/domain */
  raw: string;
}

/** A domain that a Host does not name exactly (a wildcard, the default *): its rule set and its name. */
export interface Domain extends RuleSet {
  name: string;
}

export interface Server {
  addr: string;
  params: ServerParams;
  raw: string;
}

export interface Upstream {
  name: string;
  servers: LuaTable<string, Server>;
  peers: Peer[];
  /** the upstream's policy (the defaults when it has none) */
  policy: Policy;
  /** the policy's algorithm and this worker's state of it */
  algo: Algorithm;
  state: AlgorithmState;
  /** servers not marked down: 0 means the upstream can never answer */
  usable: number;
  /** sticky: the nginx variable of the cookie (cookie_<name>), undefined without sticky */
  stickyVar: string | undefined;
  /** sticky: Set-Cookie is stickyPrefix .. peer.id .. stickySuffix */
  stickyPrefix: string;
  stickySuffix: string;
  /** sticky: peers by the cookie value that names them */
  byId: LuaTable<string, Peer>;
  /** some server has slow_start: its ramp starts again when it recovers */
  slowStart: boolean;
  /** statuses that count as a passive-health failure (policy fail_statuses), or undefined */
  failStatuses: LuaTable<number, boolean> | undefined;
}

/** every domain's rule set by the domain's name as stored: exact names, wildcards (*.example.com) and the default (*) */
export const domains = new LuaTable<string, RuleSet>();

/** wildcard domains by the suffix they cover: *.example.com is under "example.com" */
export const wildcards = new LuaTable<string, Domain>();

/**
 * How a Host is looked up when no domain has its exact name: `wildcards` and `depth` (the most
 * labels a wildcard's suffix has) say whether and where to probe; `fallback` is the default (*).
 */
export const hostIndex: { wildcards: number; depth: number; fallback: Domain | undefined } = { wildcards: 0, depth: 0, fallback: undefined };

/**
 * The domain for a Host that no domain names exactly: the most specific wildcard (one probe per
 * label, longest suffix first, skipping suffixes longer than any wildcard's), else the default.
 */
export function lookupWildcard(host: string): Domain | undefined {
  if (hostIndex.wildcards > 0) {
    let labels = 1;
    let [dot] = string.find(host, ".", 1, true);
    while (dot !== undefined) {
      labels = labels + 1;
      [dot] = string.find(host, ".", dot + 1, true);
    }
    const depth = hostIndex.depth;
    let k = 0;
    [dot] = string.find(host, ".", 1, true);
    while (dot !== undefined) {
      k = k + 1;
      // the suffix after the k-th dot has labels - k labels
      if (labels - k <= depth) {
        const d = wildcards.get(string.sub(host, dot + 1));
        if (d !== undefined) return d;
      }
      [dot] = string.find(host, ".", dot + 1, true);
    }
  }
  return hostIndex.fallback;
}

/** The name of the domain a Host routes by: the Host itself, else lookupWildcard's. */
export function domainName(host: string): string | undefined {
  if (domains.has(host)) return host;
  return lookupWildcard(host)?.name;
}
export const upstreams = new LuaTable<string, Upstream>();

export const counts = { domains: 0, upstreams: 0 };

/** each upstream's balancing policy, as stored (raw) and normalized; an upstream may not exist yet */
export interface StoredPolicy {
  raw: string;
  policy: Policy;
}
export const policies = new LuaTable<string, StoredPolicy>();

/** one-server upstreams for backends that name a literal host:port, keyed by it */
export const literals = new LuaTable<string, Upstream>();

/** The upstream and peer a peer key ("<upstream>|<host:port>") names; [undefined, undefined] when gone. */
export function peerByKey(key: string): LuaMultiReturn<[Upstream | undefined, Peer | undefined]> {
  const [bar] = string.find(key, "|", 1, true);
  if (bar === undefined) return $multi(undefined, undefined);
  const name = string.sub(key, 1, bar - 1);
  const up = upstreams.get(name) ?? literals.get(name);
  if (up === undefined) return $multi(undefined, undefined);
  for (const p of up.peers) {
    if (p.key === key) return $multi(up, p);
  }
  return $multi(up, undefined);
}

/** A TLS certificate from /$ELBNAME/certs/<name>; chain and key are parsed at its first handshake. */
export interface Cert {
  name: string;
  raw: string;
  summary: CertSummary;
  /** the PEM texts, until parsed */
  certPem: string;
  keyPem: string;
  /** ngx.ssl.parse_pem_cert / parse_pem_priv_key cdata; undefined until the first handshake */
  chain: unknown;
  key: unknown;
}

/** every certificate, by its name under /$ELBNAME/certs/ */
export const certs = new LuaTable<string, Cert>();

/** the certificate a handshake gets for a name it covers (a host, or "*.<parent>") */
export const certFor = new LuaTable<string, Cert>();

/** ACME HTTP-01 key authorizations, by token */
export const challenges = new LuaTable<string, string>();
