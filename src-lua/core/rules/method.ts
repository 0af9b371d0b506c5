// method: {"methods": ["GET", "HEAD", ...], "succ", "fail"}: the request's method is one of them.
import { isArray } from "../json-shape";
import { describe, pointer } from "../problems";
import { checkKnown, matcherEdges, requireArg } from "./args";
import { RuleKind } from "./node";
import { RuleType } from "./type";

export const MAX_METHODS = 32;

function checkMethod(m: string): string | undefined {
  if (m.length === 0 || m.length > 32) return "a method has 1 to 32 characters";
  for (let i = 0; i < m.length; i++) {
    const c = m.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || c === 45 || c === 95)) return `"${m}" is not a method: methods are written in capitals (GET, POST, ...), as sent`;
  }
  return undefined;
}

export const method: RuleType = {
  kind: RuleKind.Method,
  check(args, c) {
    checkKnown("method", args, { methods: "array", succ: "edge", fail: "edge" }, c);
    requireArg(args, "methods", 'a list such as ["GET", "HEAD"]', c);
    const list = args["methods"];
    if (!isArray(list)) return;
    const at = pointer(c.at, "methods");
    const items = list as unknown[];
    if (items.length === 0) c.problems.push({ path: at, error: "methods must not be empty" });
    else if (items.length > MAX_METHODS) c.problems.push({ path: at, error: `at most ${MAX_METHODS} methods` });
    for (let i = 0; i < items.length; i++) {
      const m = items[i];
      const err = typeof m === "string" ? checkMethod(m) : `must be a string, got ${describe(m)}`;
      if (err !== undefined) c.problems.push({ path: pointer(at, i), error: err });
    }
  },
  edges: matcherEdges,
  compile(args, node) {
    const set: { [m: string]: boolean } = {};
    for (const m of args["methods"] as string[]) set[m] = true;
    node.methods = set;
  },
};
