// Rule sets: {"init": name, "rules": {name: {"type", "args"}}}, one per domain.
// validateRuleSet says everything that is wrong; compileRuleSet turns a valid one into a graph
// of nodes linked by direct references, which the access phase walks without decoding JSON.

import { parseHostPort } from "./address";
import { RegexCheck } from "./host";
import { isObject, sortedKeys } from "./json-shape";
import { checkHeaderName, checkUpstreamName } from "./names";
import { Problem, describe, pointer } from "./problems";

export const enum RuleKind {
  Ua = 1,
  Path = 2,
  Backend = 3,
}

export interface RuleNode {
  kind: RuleKind;
  name: string;
  /** ua: PCRE pattern (matched caselessly); path: a regex, or a prefix when !regex */
  pattern: string;
  regex: boolean;
  rewrite: boolean;
  succ: RuleNode | undefined;
  fail: RuleNode | undefined;
  /** backend: an upstream name, or a literal host:port */
  server: string;
  literal: boolean;
  headerNames: string[];
  headerValues: string[];
}

export interface CompiledRuleSet {
  init: RuleNode;
  /** the longest walk from init, in rules: the access phase never loops longer */
  maxSteps: number;
}

export type { RegexCheck };

export const MAX_RULES = 256;

const ARGS: { [type: string]: { [arg: string]: string } } = {
  ua: { pattern: "string", succ: "string", fail: "string" },
  path: { pattern: "string", regex: "boolean", rewrite: "boolean", succ: "string", fail: "string" },
};

function checkArgs(type: string, args: { [key: string]: unknown }, at: string, names: { [name: string]: unknown }, checkRegex: RegexCheck, problems: Problem[]): void {
  if (type === "backend") {
    const server = args["servername"];
    if (typeof server !== "string") {
      problems.push({ path: pointer(at, "servername"), error: `servername must be a string (an upstream name or host:port), got ${describe(server)}` });
    } else if (server.indexOf(":") >= 0) {
      const hp = parseHostPort(server);
      if (typeof hp === "string") problems.push({ path: pointer(at, "servername"), error: `invalid host:port: ${hp}` });
    } else {
      const err = checkUpstreamName(server);
      if (err !== undefined) problems.push({ path: pointer(at, "servername"), error: err });
    }
    for (const k of sortedKeys(args)) {
      if (k === "servername") continue;
      const err = checkHeaderName(k);
      if (err !== undefined) problems.push({ path: pointer(at, k), error: `header "${k}": ${err}` });
      else if (typeof args[k] !== "string") problems.push({ path: pointer(at, k), error: `header value must be a string, got ${describe(args[k])}` });
    }
    return;
  }
  const known = ARGS[type];
  for (const k of sortedKeys(args)) {
    const want = known[k];
    const v = args[k];
    if (want === undefined) {
      problems.push({ path: pointer(at, k), error: `unknown argument for a ${type} rule` });
    } else if (typeof v !== want) {
      problems.push({ path: pointer(at, k), error: `must be a ${want}, got ${describe(v)}` });
    } else if ((k === "succ" || k === "fail") && names[v as string] === undefined) {
      problems.push({ path: pointer(at, k), error: `names no rule: "${v}"` });
    }
  }
  const pattern = args["pattern"];
  if (pattern === undefined) {
    problems.push({ path: pointer(at, "pattern"), error: "pattern is required" });
  } else if (typeof pattern === "string") {
    if (pattern.length === 0) {
      problems.push({ path: pointer(at, "pattern"), error: "pattern must not be empty" });
    } else if (type === "ua" || args["regex"] === true) {
      const err = checkRegex(pattern, type === "ua");
      if (err !== undefined) problems.push({ path: pointer(at, "pattern"), error: `invalid regex: ${err}` });
    }
  }
  if (type === "path" && args["rewrite"] === true && args["regex"] !== true) {
    problems.push({ path: pointer(at, "rewrite"), error: "rewrite needs regex: true (the new path is / + the first capture group)" });
  }
}

function findCycles(rules: { [name: string]: any }, names: string[], base: string, problems: Problem[]): void {
  // 0 = unvisited, 1 = on the current walk, 2 = done
  const state: { [name: string]: number } = {};
  for (const start of names) {
    if (state[start] !== undefined) continue;
    const stack: string[] = [start];
    const edge: number[] = [0];
    state[start] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const at = edge.length - 1;
      const which = edge[at];
      edge[at] = which + 1;
      if (which >= 2) {
        state[top] = 2;
        stack.pop();
        edge.pop();
        continue;
      }
      const field = which === 0 ? "succ" : "fail";
      const rule = rules[top];
      const next = isObject(rule) && isObject(rule["args"]) ? rule["args"][field] : undefined;
      if (typeof next !== "string" || !isObject(rules[next])) continue;
      if (state[next] === 1) {
        const from = stack.indexOf(next);
        const loop = stack.slice(from);
        loop.push(next);
        problems.push({ path: pointer(pointer(pointer(base, top), "args"), field), error: `creates a cycle: ${loop.join(" -> ")}` });
      } else if (state[next] === undefined) {
        state[next] = 1;
        stack.push(next);
        edge.push(0);
      }
    }
  }
}

/** Adds to `problems` everything wrong with `rs`, the rule set found at JSON pointer `base`. */
export function validateRuleSet(rs: unknown, base: string, checkRegex: RegexCheck, problems: Problem[]): void {
  if (!isObject(rs)) {
    problems.push({ path: base, error: `a rule set must be an object with "init" and "rules", got ${describe(rs)}` });
    return;
  }
  for (const k of sortedKeys(rs)) {
    if (k !== "init" && k !== "rules") problems.push({ path: pointer(base, k), error: "unknown field (a rule set has init and rules)" });
  }
  const rules = rs["rules"];
  const rulesAt = pointer(base, "rules");
  if (!isObject(rules)) {
    problems.push({ path: rulesAt, error: `rules must be an object of named rules, got ${describe(rules)}` });
  }
  const names = isObject(rules) ? sortedKeys(rules) : [];
  if (isObject(rules) && names.length === 0) problems.push({ path: rulesAt, error: "rules must not be empty" });
  if (names.length > MAX_RULES) problems.push({ path: rulesAt, error: `too many rules (at most ${MAX_RULES})` });
  const init = rs["init"];
  if (init === undefined) problems.push({ path: pointer(base, "init"), error: "init is required: the name of the first rule" });
  else if (typeof init !== "string") problems.push({ path: pointer(base, "init"), error: `init must be a string, got ${describe(init)}` });
  else if (isObject(rules) && rules[init] === undefined) problems.push({ path: pointer(base, "init"), error: `names no rule: "${init}"` });
  if (!isObject(rules)) return;

  for (const name of names) {
    const rule = rules[name];
    const at = pointer(rulesAt, name);
    if (!isObject(rule)) {
      problems.push({ path: at, error: `a rule must be an object with "type" and "args", got ${describe(rule)}` });
      continue;
    }
    for (const k of sortedKeys(rule)) {
      if (k !== "type" && k !== "args") problems.push({ path: pointer(at, k), error: "unknown field (a rule has type and args)" });
    }
    const type = rule["type"];
    if (type !== "ua" && type !== "path" && type !== "backend") {
      problems.push({ path: pointer(at, "type"), error: `unknown rule type ${typeof type === "string" ? `"${type}"` : describe(type)} (known: ua, path, backend)` });
      continue;
    }
    const args = rule["args"];
    if (!isObject(args)) {
      problems.push({ path: pointer(at, "args"), error: `args must be an object, got ${describe(args)}` });
      continue;
    }
    checkArgs(type, args, pointer(at, "args"), rules, checkRegex, problems);
  }
  findCycles(rules, names, rulesAt, problems);
}

/** Turns a rule set that validateRuleSet accepted into a linked graph. */
export function compileRuleSet(rs: { [key: string]: any }): CompiledRuleSet {
  const rules: { [name: string]: any } = rs["rules"];
  const nodes: { [name: string]: RuleNode } = {};
  const names = sortedKeys(rules);
  for (const name of names) {
    const rule = rules[name];
    const args: { [key: string]: any } = rule["args"];
    const node: RuleNode = {
      kind: rule["type"] === "ua" ? RuleKind.Ua : rule["type"] === "path" ? RuleKind.Path : RuleKind.Backend,
      name,
      pattern: "",
      regex: false,
      rewrite: false,
      succ: undefined,
      fail: undefined,
      server: "",
      literal: false,
      headerNames: [],
      headerValues: [],
    };
    if (node.kind === RuleKind.Backend) {
      node.server = args["servername"];
      node.literal = node.server.indexOf(":") >= 0;
      for (const k of sortedKeys(args)) {
        if (k === "servername") continue;
        node.headerNames.push(k);
        node.headerValues.push(args[k]);
      }
    } else {
      node.pattern = args["pattern"];
      node.regex = node.kind === RuleKind.Ua || args["regex"] === true;
      node.rewrite = node.kind === RuleKind.Path && args["rewrite"] === true;
    }
    nodes[name] = node;
  }
  for (const name of names) {
    const args: { [key: string]: any } = rules[name]["args"];
    const node = nodes[name];
    if (node.kind !== RuleKind.Backend) {
      if (typeof args["succ"] === "string") node.succ = nodes[args["succ"]];
      if (typeof args["fail"] === "string") node.fail = nodes[args["fail"]];
    }
  }
  const init = nodes[rs["init"]];
  return { init, maxSteps: longestWalk(init, {}) };
}

function longestWalk(node: RuleNode | undefined, memo: { [name: string]: number }): number {
  if (node === undefined) return 0;
  const known = memo[node.name];
  if (known !== undefined) return known;
  const a = longestWalk(node.succ, memo);
  const b = longestWalk(node.fail, memo);
  const n = 1 + (a > b ? a : b);
  memo[node.name] = n;
  return n;
}
