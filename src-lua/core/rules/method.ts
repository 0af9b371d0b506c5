// method: {"methods": ["GET", "HEAD", ...], "succ", "fail"}: the request's method is one of them.
import { checkKnown, checkStringList, matcherEdges } from "./args";
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
    checkStringList(args, "methods", '["GET", "HEAD"]', MAX_METHODS, c, checkMethod);
  },
  edges: matcherEdges,
  compile(args, node) {
    const set: { [m: string]: boolean } = {};
    for (const m of args["methods"] as string[]) set[m] = true;
    node.methods = set;
  },
};
