// path: {"pattern", "regex", "rewrite", "succ", "fail"}: a prefix of the path, or with regex a
// PCRE regex; with rewrite (Eru's), the path sent on becomes / + the first capture group.
import { pointer } from "../problems";
import { checkKnown, checkPattern, matcherEdges } from "./args";
import { RuleKind } from "./node";
import { RuleType } from "./type";

export const path: RuleType = {
  kind: RuleKind.Path,
  check(args, c) {
    checkKnown("path", args, { pattern: "string", regex: "boolean", rewrite: "boolean", succ: "edge", fail: "edge" }, c);
    checkPattern(args, args["regex"] === true, false, c);
    if (args["rewrite"] === true && args["regex"] !== true) {
      c.problems.push({ path: pointer(c.at, "rewrite"), error: "rewrite needs regex: true (the new path is / + the first capture group)" });
    }
  },
  edges: matcherEdges,
  compile(args, node) {
    node.pattern = args["pattern"];
    node.regex = args["regex"] === true;
    node.rewrite = args["rewrite"] === true;
    node.options = "jo";
  },
};
