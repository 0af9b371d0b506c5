// An upstream's balancing policy, stored as JSON at /$ELBNAME/policies/<upstream>:
//   {"algorithm", "hash_on", "sticky", "healthcheck", "retries", "timeouts", "on_all_down",
//    "fail_statuses", "tls"}
// every field optional. validatePolicy says everything that is wrong (JSON pointers under
// `path`); normalizePolicy turns a valid value into the defaults-filled Policy the engine uses.
// Pure: runs under Node (vitest, elbctl) and as Lua (nginx, busted) with the same meaning.

import { checkSeconds, checkStatusList, checkUnknown, checkWhole, contains, numbers } from "./checks";
import { checkHealthCheck, HealthCheck, normalizeHealthCheck } from "./healthcheck";
import { isObject, sortedKeys } from "./json-shape";
import { checkDomain, checkHeaderName } from "./names";
import { Problem, describe, pointer } from "./problems";

export type { HealthCheck };

export const ALGORITHMS = ["roundrobin", "least_conn", "chash", "ewma"];

export const enum HashOn {
  RemoteAddr = 1,
  Uri = 2,
  Header = 3,
  Cookie = 4,
  Arg = 5,
}

export interface Sticky {
  /** the cookie's name */
  cookie: string;
  /** Max-Age in seconds; 0: a session cookie */
  ttl: number;
}

export interface Timeouts {
  /** seconds; 0 keeps nginx's configured value (connect 3, send 60, read 60) */
  connect: number;
  send: number;
  read: number;
  /** seconds an upgraded connection (WebSocket) may stay silent; 0: Upgraded.Idle */
  upgraded: number;
}

/** Seconds an upgraded connection may stay silent: when the policy does not say (a day), at most (a week). */
export const enum Upgraded {
  Idle = 86400,
  MaxIdle = 604800,
}

/** TLS to the upstream's servers (policy "tls" with "enabled": true). */
export interface UpstreamTls {
  /** verify the server's chain (against the node's ELB_UPSTREAM_CA) and its name */
  verify: boolean;
  /** the SNI name sent and verified; undefined: the request's host */
  serverName: string | undefined;
}

export interface Policy {
  algorithm: string;
  /** the nginx variable that holds the hash key: remote_addr, uri, http_x_user, cookie_sid, arg_id */
  hashVar: string;
  sticky: Sticky | undefined;
  healthcheck: HealthCheck | undefined;
  /** -1: the number of usable servers - 1 */
  retries: number;
  timeouts: Timeouts | undefined;
  /** "any": when no server is usable, try them anyway (nginx's way); "fail": answer 502 */
  onAllDown: string;
  /** answers from a server that count as a passive-health failure (e.g. 500, 502, 503, 504) */
  failStatuses: number[];
  /** HTTPS to the servers; undefined: plain HTTP */
  tls: UpstreamTls | undefined;
}

export const POLICY_FIELDS = ["algorithm", "fail_statuses", "hash_on", "healthcheck", "on_all_down", "retries", "sticky", "timeouts", "tls"];
const TLS_FIELDS = ["enabled", "server_name", "verify"];
export const MAX_RETRIES = 100;
export const MAX_STICKY_TTL = 315360000; // ten years

/** A cookie name: an RFC 6265 token. */
export function checkCookieName(n: string): string | undefined {
  if (n.length === 0) return "cookie name must not be empty";
  if (n.length > 128) return "cookie name is longer than 128 characters";
  const err = checkHeaderName(n); // the same token characters
  return err === undefined ? undefined : "not a valid cookie name";
}

/** A query argument name as nginx's $arg_<name> can read it. */
function checkArgName(n: string): string | undefined {
  if (n.length === 0) return "argument name must not be empty";
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 45 || c === 46 || c === 95;
    if (!ok) return "argument name may hold only letters, digits, '.', '-' and '_'";
  }
  return undefined;
}

interface HashSpec {
  kind: HashOn;
  name: string;
}

/** Parses hash_on; a string is an error message. */
export function parseHashOn(s: string): HashSpec | string {
  if (s === "remote_addr") return { kind: HashOn.RemoteAddr, name: "" };
  if (s === "uri") return { kind: HashOn.Uri, name: "" };
  const colon = s.indexOf(":");
  const prefix = colon > 0 ? s.substring(0, colon) : "";
  const name = colon > 0 ? s.substring(colon + 1) : "";
  if (prefix === "header") {
    const err = checkHeaderName(name);
    return err === undefined ? { kind: HashOn.Header, name } : `header:<name>: ${err}`;
  }
  if (prefix === "cookie") {
    const err = checkCookieName(name);
    return err === undefined ? { kind: HashOn.Cookie, name } : `cookie:<name>: ${err}`;
  }
  if (prefix === "arg") {
    const err = checkArgName(name);
    return err === undefined ? { kind: HashOn.Arg, name } : `arg:<name>: ${err}`;
  }
  return `unknown hash_on "${s}" (known: remote_addr, uri, header:<name>, cookie:<name>, arg:<name>)`;
}

/** Adds what is wrong with policy `v` to `problems`, at JSON pointers under `path`. */
export function validatePolicy(v: unknown, path: string, problems: Problem[]): void {
  if (!isObject(v)) {
    problems.push({ path, error: `a policy must be an object like {"algorithm": "least_conn"}, got ${describe(v)}` });
    return;
  }
  checkUnknown(v, POLICY_FIELDS, path, "policy", problems);
  const algorithm = v["algorithm"];
  if (algorithm !== undefined && (typeof algorithm !== "string" || !contains(ALGORITHMS, algorithm))) {
    problems.push({ path: pointer(path, "algorithm"), error: `unknown algorithm ${typeof algorithm === "string" ? `"${algorithm}"` : describe(algorithm)} (known: ${ALGORITHMS.join(", ")})` });
  }
  const hashOn = v["hash_on"];
  if (hashOn !== undefined) {
    if (typeof hashOn !== "string") {
      problems.push({ path: pointer(path, "hash_on"), error: `must be a string, got ${describe(hashOn)}` });
    } else {
      const spec = parseHashOn(hashOn);
      if (typeof spec === "string") problems.push({ path: pointer(path, "hash_on"), error: spec });
      else if (algorithm !== "chash") problems.push({ path: pointer(path, "hash_on"), error: 'hash_on needs "algorithm": "chash"' });
    }
  }
  const sticky = v["sticky"];
  if (sticky !== undefined) {
    const at = pointer(path, "sticky");
    if (!isObject(sticky)) {
      problems.push({ path: at, error: `must be an object like {"cookie": "srv", "ttl": 3600}, got ${describe(sticky)}` });
    } else {
      checkUnknown(sticky, ["cookie", "ttl"], at, "sticky", problems);
      const cookie = sticky["cookie"];
      if (typeof cookie !== "string") {
        problems.push({ path: pointer(at, "cookie"), error: `cookie must be a cookie name (a string), got ${describe(cookie)}` });
      } else {
        const err = checkCookieName(cookie);
        if (err !== undefined) problems.push({ path: pointer(at, "cookie"), error: err });
      }
      if (sticky["ttl"] !== undefined) checkWhole(sticky["ttl"], pointer(at, "ttl"), 0, MAX_STICKY_TTL, problems);
    }
  }
  if (v["healthcheck"] !== undefined) checkHealthCheck(v["healthcheck"], pointer(path, "healthcheck"), problems);
  if (v["retries"] !== undefined) checkWhole(v["retries"], pointer(path, "retries"), 0, MAX_RETRIES, problems);
  const timeouts = v["timeouts"];
  if (timeouts !== undefined) {
    const at = pointer(path, "timeouts");
    if (!isObject(timeouts)) {
      problems.push({ path: at, error: `must be an object like {"connect": 1, "send": 10, "read": 30}, got ${describe(timeouts)}` });
    } else {
      checkUnknown(timeouts, ["connect", "read", "send", "upgraded"], at, "timeouts", problems);
      for (const name of ["connect", "read", "send"]) {
        if (timeouts[name] !== undefined) checkSeconds(timeouts[name], pointer(at, name), 0.001, 3600, problems);
      }
      if (timeouts["upgraded"] !== undefined) checkSeconds(timeouts["upgraded"], pointer(at, "upgraded"), 1, Upgraded.MaxIdle, problems);
    }
  }
  const onAllDown = v["on_all_down"];
  if (onAllDown !== undefined && onAllDown !== "fail" && onAllDown !== "any") {
    problems.push({ path: pointer(path, "on_all_down"), error: `must be "fail" or "any", got ${typeof onAllDown === "string" ? `"${onAllDown}"` : describe(onAllDown)}` });
  }
  if (v["fail_statuses"] !== undefined) checkStatusList(v["fail_statuses"], pointer(path, "fail_statuses"), 400, problems);
  if (v["tls"] !== undefined) checkTls(v["tls"], pointer(path, "tls"), problems);
}

function checkTls(tls: unknown, at: string, problems: Problem[]): void {
  if (!isObject(tls)) {
    problems.push({ path: at, error: `must be an object like {"enabled": true, "verify": true, "server_name": "api.internal"}, got ${describe(tls)}` });
    return;
  }
  for (const k of sortedKeys(tls)) {
    if (k === "ca") {
      problems.push({ path: pointer(at, k), error: "a CA per upstream is not supported: nginx 1.22 reads proxy_ssl_trusted_certificate once at start, so ELB verifies every upstream against the node's ELB_UPSTREAM_CA file (put the CA there)" });
    } else if (!contains(TLS_FIELDS, k)) {
      problems.push({ path: pointer(at, k), error: `unknown tls field "${k}" (known: ${TLS_FIELDS.join(", ")})` });
    }
  }
  for (const k of ["enabled", "verify"]) {
    if (tls[k] !== undefined && typeof tls[k] !== "boolean") problems.push({ path: pointer(at, k), error: `must be true or false, got ${describe(tls[k])}` });
  }
  const name = tls["server_name"];
  if (name !== undefined) {
    const err = typeof name === "string" ? checkDomain(name) : `must be a host name (a string), got ${describe(name)}`;
    if (err !== undefined) problems.push({ path: pointer(at, "server_name"), error: err });
  }
}

function hashVar(spec: HashSpec): string {
  if (spec.kind === HashOn.Uri) return "uri";
  if (spec.kind === HashOn.Header) {
    const lower = spec.name.toLowerCase();
    let n = "";
    for (let i = 0; i < lower.length; i++) n += lower.charCodeAt(i) === 45 ? "_" : lower.substring(i, i + 1);
    return `http_${n}`;
  }
  if (spec.kind === HashOn.Cookie) return `cookie_${spec.name}`;
  if (spec.kind === HashOn.Arg) return `arg_${spec.name}`;
  return "remote_addr";
}

/** The policy of an upstream that has none: today's behaviour. */
export function defaultPolicy(): Policy {
  return {
    algorithm: "roundrobin",
    hashVar: "remote_addr",
    sticky: undefined,
    healthcheck: undefined,
    retries: -1,
    timeouts: undefined,
    onAllDown: "any",
    failStatuses: [],
    tls: undefined,
  };
}

/** A valid policy value (validatePolicy found nothing) with every default filled in. */
export function normalizePolicy(v: { [key: string]: any }): Policy {
  const p = defaultPolicy();
  if (v["algorithm"] !== undefined) p.algorithm = v["algorithm"];
  if (v["hash_on"] !== undefined) {
    const spec = parseHashOn(v["hash_on"]) as HashSpec;
    p.hashVar = hashVar(spec);
  }
  const sticky = v["sticky"];
  if (sticky !== undefined) p.sticky = { cookie: sticky["cookie"], ttl: sticky["ttl"] ?? 0 };
  if (v["healthcheck"] !== undefined) p.healthcheck = normalizeHealthCheck(v["healthcheck"]);
  if (v["retries"] !== undefined) p.retries = v["retries"];
  const t = v["timeouts"];
  if (t !== undefined) p.timeouts = { connect: t["connect"] ?? 0, send: t["send"] ?? 0, read: t["read"] ?? 0, upgraded: t["upgraded"] ?? 0 };
  if (v["on_all_down"] !== undefined) p.onAllDown = v["on_all_down"];
  p.failStatuses = numbers(v["fail_statuses"], []);
  const tls = v["tls"];
  if (tls !== undefined && tls["enabled"] !== false) p.tls = { verify: tls["verify"] === true, serverName: tls["server_name"] };
  return p;
}
