// The etcd key layout, compatible with the Eru load balancer:
//   /$ELBNAME/rules/$domain              = rule-set JSON
//   /$ELBNAME/upstreams/$name/$host:$port = server params
// New kinds of data get prefixes of their own:
//   /$ELBNAME/policies/$upstream          = the upstream's balancing policy, JSON

export const enum KeyKind {
  Rules = 1,
  Server = 2,
  Policy = 3,
}

export interface ParsedKey {
  kind: KeyKind;
  /** the domain (Rules) or the upstream name (Server, Policy) */
  name: string;
  /** Server only: host:port */
  addr: string;
}

export function rootPrefix(elbName: string): string {
  return `/${elbName}/`;
}

export function rulesKey(elbName: string, domain: string): string {
  return `/${elbName}/rules/${domain}`;
}

export function upstreamPrefix(elbName: string, upstream: string): string {
  return `/${elbName}/upstreams/${upstream}/`;
}

export function serverKey(elbName: string, upstream: string, addr: string): string {
  return `/${elbName}/upstreams/${upstream}/${addr}`;
}

export function policiesPrefix(elbName: string): string {
  return `/${elbName}/policies/`;
}

export function policyKey(elbName: string, upstream: string): string {
  return `/${elbName}/policies/${upstream}`;
}

/** What a key under /$ELBNAME/ holds, or undefined for keys ELB does not route by. */
export function parseKey(elbName: string, key: string): ParsedKey | undefined {
  const root = rootPrefix(elbName);
  if (!key.startsWith(root)) return undefined;
  const rest = key.substring(root.length);
  if (rest.startsWith("rules/")) {
    const domain = rest.substring(6);
    if (domain.length === 0 || domain.indexOf("/") >= 0) return undefined;
    return { kind: KeyKind.Rules, name: domain, addr: "" };
  }
  if (rest.startsWith("upstreams/")) {
    const tail = rest.substring(10);
    const slash = tail.indexOf("/");
    if (slash <= 0 || slash === tail.length - 1) return undefined;
    const addr = tail.substring(slash + 1);
    if (addr.indexOf("/") >= 0) return undefined;
    return { kind: KeyKind.Server, name: tail.substring(0, slash), addr };
  }
  if (rest.startsWith("policies/")) {
    const upstream = rest.substring(9);
    if (upstream.length === 0 || upstream.indexOf("/") >= 0) return undefined;
    return { kind: KeyKind.Policy, name: upstream, addr: "" };
  }
  return undefined;
}
