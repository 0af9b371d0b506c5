// An upstream's balancing policy, stored as JSON at /$ELBNAME/policies/<upstream>:
//   {"algorithm", "hash_on", "sticky", "healthcheck", "retries", "timeouts", "on_all_down",
//    "fail_statuses"}
// every field optional. validatePolicy says everything that is wrong (JSON pointers under
// `path`); normalizePolicy turns a valid value into the defaults-filled Policy the engine uses.
// Pure: runs under Node (vitest, elbctl) and as Lua (nginx, busted) with the same meaning.

import { isArray, isObject, sortedKeys } from "./json-shape";
import { checkHeaderName } from "./names";
import { Problem, describe, pointer } from "./problems";

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

export interface HealthCheck {
  type: string; // "http" | "node-state"
  path: string;
  /** the Host header sent; "" means the server's host:port */
  host: string;
  /** 0 means the server's port */
  port: number;
  interval: number;
  timeout: number;
  rise: number;
  fall: number;
  /** http: the statuses that mean healthy; empty means 200..399 */
  statuses: number[];
  /** node-state: the statuses that mean enabled, disabled (drain) and offline */
  enabled: number[];
  disabled: number[];
  offline: number[];
}

export interface Timeouts {
  /** seconds; 0 keeps nginx's configured value (connect 3, send 60, read 60) */
  connect: number;
  send: number;
  read: number;
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
}

export const POLICY_FIELDS = ["algorithm", "fail_statuses", "hash_on", "healthcheck", "on_all_down", "retries", "sticky", "timeouts"];
const HTTP_CHECK_FIELDS = ["fall", "host", "interval", "path", "port", "rise", "statuses", "timeout", "type"];
const NODE_STATE_FIELDS = ["disabled", "enabled", "fall", "host", "interval", "offline", "path", "port", "rise", "timeout", "type"];

export const MAX_RETRIES = 100;
export const MAX_STICKY_TTL = 315360000; // ten years

function contains(list: string[], s: string): boolean {
  for (const x of list) if (x === s) return true;
  return false;
}

function isWhole(v: unknown): boolean {
  return typeof v === "number" && Math.floor(v) === v;
}

function checkWhole(v: unknown, at: string, min: number, max: number, problems: Problem[]): void {
  if (!isWhole(v) || (v as number) < min || (v as number) > max) {
    problems.push({ path: at, error: `must be a whole number from ${min} to ${max}, got ${typeof v === "number" ? `${v}` : describe(v)}` });
  }
}

function checkSeconds(v: unknown, at: string, min: number, max: number, problems: Problem[]): void {
  if (typeof v !== "number" || v < min || v > max) {
    problems.push({ path: at, error: `must be a number of seconds from ${min} to ${max}, got ${typeof v === "number" ? `${v}` : describe(v)}` });
  }
}

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

function checkStatusList(v: unknown, at: string, min: number, problems: Problem[]): void {
  if (!isArray(v) || (v as unknown[]).length === 0) {
    // an empty array: JS and Lua (where {} and [] are one) describe it differently
    const got = isArray(v) ? "" : `, got ${describe(v)}`;
    problems.push({ path: at, error: `must be a non-empty array of HTTP statuses${got}` });
    return;
  }
  const list = v as unknown[];
  for (let i = 0; i < list.length; i++) checkWhole(list[i], pointer(at, i), min, 599, problems);
}

function checkUnknown(o: { [k: string]: unknown }, known: string[], at: string, what: string, problems: Problem[]): void {
  for (const k of sortedKeys(o)) {
    if (!contains(known, k)) problems.push({ path: pointer(at, k), error: `unknown ${what} field "${k}" (known: ${known.join(", ")})` });
  }
}

function checkHealthCheck(hc: unknown, at: string, problems: Problem[]): void {
  if (!isObject(hc)) {
    problems.push({ path: at, error: `must be an object like {"type": "http", "path": "/health"}, got ${describe(hc)}` });
    return;
  }
  const type = hc["type"];
  if (type !== "http" && type !== "node-state") {
    problems.push({ path: pointer(at, "type"), error: `type must be "http" or "node-state", got ${typeof type === "string" ? `"${type}"` : describe(type)}` });
    return;
  }
  checkUnknown(hc, type === "http" ? HTTP_CHECK_FIELDS : NODE_STATE_FIELDS, at, `${type} healthcheck`, problems);
  const path = hc["path"];
  if (path !== undefined) {
    let bad = typeof path !== "string" || path.length === 0 || path.charCodeAt(0) !== 47;
    if (!bad) {
      const p = path as string;
      for (let i = 0; i < p.length; i++) {
        const c = p.charCodeAt(i);
        if (c <= 32 || c === 127) bad = true;
      }
    }
    if (bad) problems.push({ path: pointer(at, "path"), error: `must be a path starting with "/", without spaces or control characters, got ${typeof path === "string" ? `"${path}"` : describe(path)}` });
  }
  const host = hc["host"];
  if (host !== undefined) {
    let bad = typeof host !== "string" || host.length === 0 || host.length > 255;
    if (!bad) {
      const h = host as string;
      for (let i = 0; i < h.length; i++) {
        const c = h.charCodeAt(i);
        if (c <= 32 || c === 127) bad = true;
      }
    }
    if (bad) problems.push({ path: pointer(at, "host"), error: `must be a Host header value (a non-empty string without spaces), got ${typeof host === "string" ? `"${host}"` : describe(host)}` });
  }
  if (hc["port"] !== undefined) checkWhole(hc["port"], pointer(at, "port"), 1, 65535, problems);
  if (hc["interval"] !== undefined) checkSeconds(hc["interval"], pointer(at, "interval"), 0.1, 3600, problems);
  if (hc["timeout"] !== undefined) checkSeconds(hc["timeout"], pointer(at, "timeout"), 0.01, 300, problems);
  if (hc["rise"] !== undefined) checkWhole(hc["rise"], pointer(at, "rise"), 1, 100, problems);
  if (hc["fall"] !== undefined) checkWhole(hc["fall"], pointer(at, "fall"), 1, 100, problems);
  if (type === "http") {
    if (hc["statuses"] !== undefined) checkStatusList(hc["statuses"], pointer(at, "statuses"), 100, problems);
    return;
  }
  // node-state: each answer means one state, so the lists must not share a status
  const owner: { [status: string]: string } = {};
  for (const name of ["enabled", "disabled", "offline"]) {
    const v = hc[name];
    if (v === undefined) continue;
    const before = problems.length;
    checkStatusList(v, pointer(at, name), 100, problems);
    if (problems.length > before) continue;
    const list = v as number[];
    for (let i = 0; i < list.length; i++) {
      const s = `${list[i]}`;
      const o = owner[s];
      if (o !== undefined && o !== name) problems.push({ path: pointer(pointer(at, name), i), error: `status ${s} is also listed in ${o}` });
      owner[s] = name;
    }
  }
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
      checkUnknown(timeouts, ["connect", "read", "send"], at, "timeouts", problems);
      for (const name of ["connect", "read", "send"]) {
        if (timeouts[name] !== undefined) checkSeconds(timeouts[name], pointer(at, name), 0.001, 3600, problems);
      }
    }
  }
  const onAllDown = v["on_all_down"];
  if (onAllDown !== undefined && onAllDown !== "fail" && onAllDown !== "any") {
    problems.push({ path: pointer(path, "on_all_down"), error: `must be "fail" or "any", got ${typeof onAllDown === "string" ? `"${onAllDown}"` : describe(onAllDown)}` });
  }
  if (v["fail_statuses"] !== undefined) checkStatusList(v["fail_statuses"], pointer(path, "fail_statuses"), 400, problems);
}

function numbers(v: unknown, fallback: number[]): number[] {
  if (v === undefined) return fallback;
  const out: number[] = [];
  for (const n of v as number[]) out.push(n);
  return out;
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
  const hc = v["healthcheck"];
  if (hc !== undefined) {
    const nodeState = hc["type"] === "node-state";
    p.healthcheck = {
      type: hc["type"],
      path: hc["path"] ?? "/",
      host: hc["host"] ?? "",
      port: hc["port"] ?? 0,
      interval: hc["interval"] ?? 5,
      timeout: hc["timeout"] ?? 2,
      rise: hc["rise"] ?? 2,
      fall: hc["fall"] ?? 3,
      statuses: nodeState ? [] : numbers(hc["statuses"], []),
      enabled: nodeState ? numbers(hc["enabled"], [200]) : [],
      disabled: nodeState ? numbers(hc["disabled"], [404]) : [],
      offline: nodeState ? numbers(hc["offline"], [503]) : [],
    };
  }
  if (v["retries"] !== undefined) p.retries = v["retries"];
  const t = v["timeouts"];
  if (t !== undefined) p.timeouts = { connect: t["connect"] ?? 0, send: t["send"] ?? 0, read: t["read"] ?? 0 };
  if (v["on_all_down"] !== undefined) p.onAllDown = v["on_all_down"];
  p.failStatuses = numbers(v["fail_statuses"], []);
  return p;
}

/** Whether an active check's answer `status` means healthy (http checks). */
export function isHealthyStatus(hc: HealthCheck, status: number): boolean {
  if (hc.statuses.length === 0) return status >= 200 && status < 400;
  for (const s of hc.statuses) if (s === status) return true;
  return false;
}

/** The state a node-state answer asks for: "enabled", "disabled", "offline", or undefined. */
export function nodeStateOf(hc: HealthCheck, status: number): string | undefined {
  for (const s of hc.enabled) if (s === status) return "enabled";
  for (const s of hc.disabled) if (s === status) return "disabled";
  for (const s of hc.offline) if (s === status) return "offline";
  return undefined;
}
