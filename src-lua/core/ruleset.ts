// Rule sets: {"init": name, "rules": {name: {"type", "args"}}}, one per domain: the graph.
// validateRuleSet says everything that is wrong (each type's args are checked by its module in
// core/rules/); compileRuleSet turns a valid one into nodes linked by direct references, which
// the access phase walks without decoding JSON, never longer than the longest possible walk.
import { RegexCheck } from "./host";
import { isObject, sortedKeys } from "./json-shape";
import { Problem, describe, pointer } from "./problems";
import { hasRule } from "./rules/args";
import { ruleType, TYPE_NAMES } from "./rules/index";
import { NO_HEADERS, RuleKind, RuleNode, successors } from "./rules/node";
import { regexPolicy } from "./rules/regex-lint";
import { Edge, Slot, Warning } from "./rules/type";

export { RuleKind, successors };
export type { RuleNode, Warning };

export interface CompiledRuleSet {
  init: RuleNode;
  /** the longest walk from init, in rules: the access phase never loops longer */
  maxSteps: number;
  /** some template reads the captures of a regex: they are kept per request */
  captures: boolean;
}

export type { RegexCheck };

export const MAX_RULES = 256;

// Tables keyed by rule name use "r:" + name: in JS a plain object has inherited keys.
const K = "r:";

function findCycles(rules: { [name: string]: any }, order: string[], edges: { [name: string]: Edge[] }, problems: Problem[]): void {
  // 0 = unvisited, 1 = on the current walk, 2 = done
  const state: { [name: string]: number } = {};
  for (const start of order) {
    if (state[K + start] !== undefined || edges[K + start] === undefined) continue;
    const stack: string[] = [start];
    const next: number[] = [0];
    state[K + start] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const at = next.length - 1;
      const which = next[at];
      next[at] = which + 1;
      const out = edges[K + top] ?? [];
      if (which >= out.length) {
        state[K + top] = 2;
        stack.pop();
        next.pop();
        continue;
      }
      const e = out[which];
      if (!hasRule(rules, e.target) || !isObject(rules[e.target])) continue;
      if (state[K + e.target] === 1) {
        const loop = stack.slice(stack.indexOf(e.target));
        loop.push(e.target);
        problems.push({ path: e.at, error: `creates a cycle: ${loop.join(" -> ")}` });
      } else if (state[K + e.target] === undefined) {
        state[K + e.target] = 1;
        stack.push(e.target);
        next.push(0);
      }
    }
  }
}

/**
 * Adds to `problems` everything wrong with `rs`, the rule set found at JSON pointer `base`, and
 * to `warnings` (default: regexPolicy.warnings) what is valid but risky. `strict` (default:
 * regexPolicy.strict) makes those risks errors.
 */
export function validateRuleSet(rs: unknown, base: string, checkRegex: RegexCheck, problems: Problem[], warnings?: Warning[], strict?: boolean): void {
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
  const order = isObject(rules) ? sortedKeys(rules) : [];
  if (isObject(rules) && order.length === 0) problems.push({ path: rulesAt, error: "rules must not be empty" });
  if (order.length > MAX_RULES) problems.push({ path: rulesAt, error: `too many rules (at most ${MAX_RULES})` });
  const init = rs["init"];
  if (init === undefined) problems.push({ path: pointer(base, "init"), error: "init is required: the name of the first rule" });
  else if (typeof init !== "string") problems.push({ path: pointer(base, "init"), error: `init must be a string, got ${describe(init)}` });
  else if (isObject(rules) && !hasRule(rules, init)) problems.push({ path: pointer(base, "init"), error: `names no rule: "${init}"` });
  if (!isObject(rules)) return;

  const edges: { [name: string]: Edge[] } = {};
  const sink = warnings ?? regexPolicy.warnings;
  const refuse = strict ?? regexPolicy.strict;
  for (const name of order) {
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
    const t = ruleType(type);
    if (t === undefined) {
      problems.push({ path: pointer(at, "type"), error: `unknown rule type ${typeof type === "string" ? `"${type}"` : describe(type)} (known: ${TYPE_NAMES.join(", ")})` });
      continue;
    }
    const args = rule["args"];
    const argsAt = pointer(at, "args");
    if (!isObject(args)) {
      problems.push({ path: argsAt, error: `args must be an object, got ${describe(args)}` });
      continue;
    }
    t.check(args, { name, at: argsAt, rules, checkRegex, problems, warnings: sink, strict: refuse });
    edges[K + name] = t.edges(args, argsAt);
  }
  findCycles(rules, order, edges, problems);
}

function newNode(kind: RuleKind, type: string, name: string): RuleNode {
  return {
    kind,
    type,
    name,
    succ: undefined,
    fail: undefined,
    pattern: "",
    regex: false,
    options: "",
    rewrite: false,
    captures: false,
    variable: "",
    server: "",
    literal: false,
    headerNames: NO_HEADERS,
    headerValues: NO_HEADERS,
  };
}

function usesCaptures(n: RuleNode): boolean {
  return (n.pathTemplate !== undefined && n.pathTemplate.usesCaptures) || (n.location !== undefined && n.location.usesCaptures);
}

/** Whether a template reading captures can be reached from n (n included). */
function leadsToCaptures(n: RuleNode | undefined, memo: { [name: string]: boolean }): boolean {
  if (n === undefined) return false;
  const known = memo[K + n.name];
  if (known !== undefined) return known;
  let found = usesCaptures(n);
  for (const s of successors(n)) if (!found && leadsToCaptures(s, memo)) found = true;
  memo[K + n.name] = found;
  return found;
}

/** Turns a rule set that validateRuleSet accepted into a linked graph. */
export function compileRuleSet(rs: { [key: string]: any }): CompiledRuleSet {
  const rules: { [name: string]: any } = rs["rules"];
  const nodes: { [key: string]: RuleNode } = {};
  const order = sortedKeys(rules);
  for (const name of order) {
    const rule = rules[name];
    const t = ruleType(rule["type"])!;
    const node = newNode(t.kind, rule["type"], name);
    t.compile(rule["args"], node);
    nodes[K + name] = node;
  }
  let captures = false;
  for (const name of order) {
    const node = nodes[K + name];
    for (const e of ruleType(node.type)!.edges(rules[name]["args"], "")) {
      const target = nodes[K + e.target];
      if (e.slot === Slot.Succ) node.succ = target;
      else if (e.slot === Slot.Fail) node.fail = target;
      else {
        if (node.branches === undefined) node.branches = [];
        node.branches.push(target);
      }
    }
    if (usesCaptures(node)) captures = true;
  }
  if (captures) {
    const memo: { [name: string]: boolean } = {};
    for (const name of order) {
      const node = nodes[K + name];
      if (node.regex) node.captures = leadsToCaptures(node.succ, memo);
    }
  }
  const init = nodes[K + rs["init"]];
  return { init, maxSteps: longestWalk(init, {}), captures };
}

function longestWalk(node: RuleNode | undefined, memo: { [name: string]: number }): number {
  if (node === undefined) return 0;
  const known = memo[K + node.name];
  if (known !== undefined) return known;
  let longest = 0;
  for (const s of successors(node)) {
    const n = longestWalk(s, memo);
    if (n > longest) longest = n;
  }
  memo[K + node.name] = 1 + longest;
  return 1 + longest;
}
