// An upstream's active health check, the "healthcheck" field of its policy:
//   http:        {"type": "http", "path", "host", "port", "interval", "timeout", "rise", "fall", "statuses"}
//   node-state:  {"type": "node-state", ..., "enabled", "disabled", "offline"} (lists of statuses)
// Pure: Node and Lua alike.
import { checkSeconds, checkStatusList, checkUnknown, checkWhole, numbers } from "./checks";
import { isObject } from "./json-shape";
import { describe, pointer, Problem } from "./problems";

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

const HTTP_CHECK_FIELDS = ["fall", "host", "interval", "path", "port", "rise", "statuses", "timeout", "type"];
const NODE_STATE_FIELDS = ["disabled", "enabled", "fall", "host", "interval", "offline", "path", "port", "rise", "timeout", "type"];

export function checkHealthCheck(hc: unknown, at: string, problems: Problem[]): void {
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

/** A valid health check value with every default filled in. */
export function normalizeHealthCheck(hc: { [key: string]: any }): HealthCheck {
  const nodeState = hc["type"] === "node-state";
  return {
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
