// scheme: {"scheme": "http" | "https", "succ", "fail"}: the scheme the client used to reach ELB
// (nginx's $scheme: https on a TLS listener).
import { pointer } from "../problems";
import { checkKnown, matcherEdges, requireArg } from "./args";
import { RuleKind } from "./node";
import { RuleType } from "./type";

export const scheme: RuleType = {
  kind: RuleKind.Scheme,
  check(args, c) {
    checkKnown("scheme", args, { scheme: "string", succ: "edge", fail: "edge" }, c);
    requireArg(args, "scheme", '"http" or "https"', c);
    const s = args["scheme"];
    if (typeof s === "string" && s !== "http" && s !== "https") c.problems.push({ path: pointer(c.at, "scheme"), error: `must be "http" or "https", got "${s}"` });
  },
  edges: matcherEdges,
  compile(args, node) {
    node.variable = args["scheme"];
  },
};
