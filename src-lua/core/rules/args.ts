// Checks that several rule types share: the known args and their JSON types, the succ/fail
// edges, whole numbers, the pattern of a matcher.
import { checkWhole } from "../checks";
import { isArray, isObject, sortedKeys } from "../json-shape";
import { describe, pointer } from "../problems";
import { lintRegex } from "./regex-lint";
import { Args, Edge, RuleCheck, Slot } from "./type";

/**
 * o[k] for data decoded from JSON, or undefined: in JS a plain object inherits functions
 * (toString, constructor, ...), which must not pass for a rule, an arg or a name.
 */
export function own<T>(o: { [k: string]: T }, k: string): T | undefined {
  const v = o[k];
  return typeof v === "function" ? undefined : v;
}

/** Whether the rule set has a rule `name`. */
export function hasRule(rules: { [name: string]: unknown }, name: string): boolean {
  return own(rules, name) !== undefined;
}

/** "edge": a string naming a rule. */
export type ArgType = "string" | "boolean" | "number" | "object" | "array" | "edge";

function typeOk(v: unknown, want: ArgType): boolean {
  if (want === "edge") return typeof v === "string";
  if (want === "object") return isObject(v);
  if (want === "array") return isArray(v);
  return typeof v === want;
}

const NOUN: { [t: string]: string } = { string: "a string", boolean: "a boolean", number: "a number", object: "an object", array: "an array", edge: "a string" };

/**
 * Unknown args, args of the wrong JSON type, and edges that name no rule, in the args' sorted
 * order. `unknown`: the message for an unknown one (default: for a `type` rule).
 */
export function checkKnown(type: string, args: Args, spec: { [arg: string]: ArgType }, c: RuleCheck, unknown?: string): void {
  for (const k of sortedKeys(args)) {
    const want = own(spec, k);
    const v = args[k];
    if (want === undefined) {
      c.problems.push({ path: pointer(c.at, k), error: unknown ?? `unknown argument for a ${type} rule` });
    } else if (!typeOk(v, want)) {
      c.problems.push({ path: pointer(c.at, k), error: `must be ${NOUN[want]}, got ${describe(v)}` });
    } else if (want === "edge" && !hasRule(c.rules, v as string)) {
      c.problems.push({ path: pointer(c.at, k), error: `names no rule: "${v}"` });
    }
  }
}

/** succ then fail, when they are strings. */
export function matcherEdges(args: Args, at: string): Edge[] {
  const out: Edge[] = [];
  const succ = args["succ"];
  const fail = args["fail"];
  if (typeof succ === "string") out.push({ target: succ, at: pointer(at, "succ"), slot: Slot.Succ });
  if (typeof fail === "string") out.push({ target: fail, at: pointer(at, "fail"), slot: Slot.Fail });
  return out;
}

/** A whole number from min to max, when present (its JSON type was checked already). */
export function checkWholeArg(args: Args, name: string, min: number, max: number, c: RuleCheck): void {
  const v = args[name];
  if (typeof v === "number") checkWhole(v, pointer(c.at, name), min, max, c.problems);
}

export function requireArg(args: Args, name: string, what: string, c: RuleCheck): void {
  if (args[name] === undefined) c.problems.push({ path: pointer(c.at, name), error: `${name} is required${what === "" ? "" : `: ${what}`}` });
}

/**
 * The `pattern` of a matcher: required and not empty; when `regex`, compiled by the runtime's
 * engine (caselessly for ua) and linted for patterns that backtrack without bound.
 */
export function checkPattern(args: Args, regex: boolean, caseless: boolean, c: RuleCheck): void {
  const pattern = args["pattern"];
  const at = pointer(c.at, "pattern");
  if (pattern === undefined) {
    c.problems.push({ path: at, error: "pattern is required" });
  } else if (typeof pattern === "string") {
    if (pattern.length === 0) {
      c.problems.push({ path: at, error: "pattern must not be empty" });
    } else if (regex) {
      const err = c.checkRegex(pattern, caseless);
      if (err !== undefined) c.problems.push({ path: at, error: `invalid regex: ${err}` });
      else lintRegex(pattern, at, c);
    }
  }
}

/**
 * A required list of strings `name` (its JSON type was checked already): not empty, at most
 * `max`, each passing checkItem (an error message, or undefined).
 */
export function checkStringList(args: Args, name: string, example: string, max: number, c: RuleCheck, checkItem: (this: void, s: string) => string | undefined): void {
  requireArg(args, name, `a list such as ${example}`, c);
  const list = args[name];
  if (!isArray(list)) return;
  const at = pointer(c.at, name);
  const items = list as unknown[];
  if (items.length === 0) c.problems.push({ path: at, error: `${name} must not be empty` });
  else if (items.length > max) c.problems.push({ path: at, error: `at most ${max} entries` });
  for (let i = 0; i < items.length; i++) {
    const v = items[i];
    const err = typeof v === "string" ? checkItem(v) : `must be a string, got ${describe(v)}`;
    if (err !== undefined) c.problems.push({ path: pointer(at, i), error: err });
  }
}

/** Response header values: strings without control characters (a tab is fine). */
export function checkHeaderValue(v: unknown, at: string, c: RuleCheck): void {
  if (typeof v !== "string") {
    c.problems.push({ path: at, error: `header value must be a string, got ${describe(v)}` });
    return;
  }
  for (let i = 0; i < v.length; i++) {
    const b = v.charCodeAt(i);
    if ((b < 32 && b !== 9) || b === 127) {
      c.problems.push({ path: at, error: "header value must not contain control characters (CR, LF, ...)" });
      return;
    }
  }
}
