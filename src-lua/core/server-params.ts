// The server params of an upstream member, with nginx's meanings:
//   weight=N  max_fails=N  fail_timeout=S (seconds: 10 or 10s)  backup  down
// and ELB's server states:
//   drain          no new clients (sticky clients keep the server)
//   slow_start=S   the weight ramps up over S seconds after the server joins or recovers
// stored as the value of /$ELBNAME/upstreams/$name/$host:$port.

import { parseWhole } from "./numbers";
import { Problem } from "./problems";

export interface ServerParams {
  weight: number;
  maxFails: number;
  failTimeout: number;
  backup: boolean;
  down: boolean;
  drain: boolean;
  /** seconds; 0: no slow start */
  slowStart: number;
}

export const MAX_WEIGHT = 10000;

const KNOWN = "weight, max_fails, fail_timeout, slow_start, backup, drain, down";

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function tokens(s: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i <= s.length; i++) {
    const space = i === s.length || isSpace(s.charCodeAt(i));
    if (space && start >= 0) {
      out.push(s.substring(start, i));
      start = -1;
    } else if (!space && start < 0) {
      start = i;
    }
  }
  return out;
}

/** Parses params, adding what is wrong to `problems` (at `path`); undefined when invalid. */
export function parseServerParams(value: unknown, path: string, problems: Problem[]): ServerParams | undefined {
  if (typeof value !== "string") {
    problems.push({ path, error: "server params must be a string, e.g. \"weight=10 max_fails=2\"" });
    return undefined;
  }
  const p: ServerParams = { weight: 1, maxFails: 1, failTimeout: 10, backup: false, down: false, drain: false, slowStart: 0 };
  const seen: { [name: string]: boolean } = {};
  const before = problems.length;
  for (const tok of tokens(value)) {
    const eq = tok.indexOf("=");
    const name = eq >= 0 ? tok.substring(0, eq) : tok;
    const arg = eq >= 0 ? tok.substring(eq + 1) : undefined;
    if (seen[name]) {
      problems.push({ path, error: `${name} is given twice` });
      continue;
    }
    seen[name] = true;
    if (name === "weight") {
      const n = arg === undefined ? undefined : parseWhole(arg, MAX_WEIGHT);
      if (n === undefined || n < 1) problems.push({ path, error: `weight must be a whole number from 1 to ${MAX_WEIGHT}` });
      else p.weight = n;
    } else if (name === "max_fails") {
      const n = arg === undefined ? undefined : parseWhole(arg, 100000);
      if (n === undefined) problems.push({ path, error: "max_fails must be a whole number (0 turns failure accounting off)" });
      else p.maxFails = n;
    } else if (name === "fail_timeout") {
      let v = arg;
      if (v !== undefined && v.endsWith("s")) v = v.substring(0, v.length - 1);
      const n = v === undefined ? undefined : parseWhole(v, 86400);
      if (n === undefined) problems.push({ path, error: "fail_timeout must be whole seconds, as 10 or 10s" });
      else p.failTimeout = n;
    } else if (name === "slow_start") {
      let v = arg;
      if (v !== undefined && v.endsWith("s")) v = v.substring(0, v.length - 1);
      const n = v === undefined ? undefined : parseWhole(v, 3600);
      if (n === undefined) problems.push({ path, error: "slow_start must be whole seconds from 0 to 3600, as 30 or 30s" });
      else p.slowStart = n;
    } else if (name === "backup" || name === "down" || name === "drain") {
      if (arg !== undefined) problems.push({ path, error: `${name} takes no value` });
      else if (name === "backup") p.backup = true;
      else if (name === "drain") p.drain = true;
      else p.down = true;
    } else {
      problems.push({ path, error: `unknown server param "${name}" (known: ${KNOWN})` });
    }
  }
  return problems.length === before ? p : undefined;
}

/** Params back to their canonical text, as `dump` writes them. */
export function formatServerParams(p: ServerParams): string {
  const parts: string[] = [];
  if (p.weight !== 1) parts.push(`weight=${p.weight}`);
  if (p.maxFails !== 1) parts.push(`max_fails=${p.maxFails}`);
  if (p.failTimeout !== 10) parts.push(`fail_timeout=${p.failTimeout}`);
  if (p.slowStart !== 0) parts.push(`slow_start=${p.slowStart}`);
  if (p.backup) parts.push("backup");
  if (p.drain) parts.push("drain");
  if (p.down) parts.push("down");
  return parts.join(" ");
}
