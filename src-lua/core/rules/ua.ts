// ua: {"pattern", "succ", "fail"}: a PCRE regex searched caselessly in the User-Agent; no
// User-Agent is a miss. As in the Eru load balancer.
import { checkKnown, checkPattern, matcherEdges } from "./args";
import { RuleKind } from "./node";
import { RuleType } from "./type";

export const ua: RuleType = {
  kind: RuleKind.Ua,
  check(args, c) {
    checkKnown("ua", args, { pattern: "string", succ: "edge", fail: "edge" }, c);
    checkPattern(args, true, true, c);
  },
  edges: matcherEdges,
  compile(args, node) {
    node.pattern = args["pattern"];
    node.regex = true;
    node.options = "joi";
  },
};
