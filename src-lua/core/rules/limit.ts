// limit: {"rate": N, "per": "second"|"minute"|"hour", "burst"?, "key"?, "succ", "fail"}: a token
// bucket per client key (core/rules/bucket.ts), shared by the node's workers: up to rate + burst
// requests at once, refilled at rate per `per`. Under the limit -> succ, over it -> fail (for
// instance a respond 429). key: "all" (one bucket for everyone) or a hash_on form; default
// remote_addr.
import { pointer } from "../problems";
import { checkKnown, checkWholeArg, matcherEdges, requireArg } from "./args";
import { keyVariable } from "./key";
import { RuleKind } from "./node";
import { RuleType } from "./type";

export const PER: { [per: string]: number } = { second: 1, minute: 60, hour: 3600 };
export const MAX_RATE = 1000000;

export const limit: RuleType = {
  kind: RuleKind.Limit,
  check(args, c) {
    checkKnown("limit", args, { rate: "number", per: "string", burst: "number", key: "string", succ: "edge", fail: "edge" }, c);
    requireArg(args, "rate", "requests per `per`", c);
    checkWholeArg(args, "rate", 1, MAX_RATE, c);
    checkWholeArg(args, "burst", 0, MAX_RATE, c);
    const per = args["per"];
    if (typeof per === "string" && typeof PER[per] !== "number") c.problems.push({ path: pointer(c.at, "per"), error: `must be "second", "minute" or "hour", got "${per}"` });
    const key = args["key"];
    if (typeof key === "string" && key !== "all") {
      const v = keyVariable(key, "key");
      if (typeof v !== "string") c.problems.push({ path: pointer(c.at, "key"), error: v.error.startsWith("unknown key") ? v.error.replace("(known: ", "(known: all, ") : v.error });
    }
  },
  edges: matcherEdges,
  compile(args, node) {
    const rate: number = args["rate"];
    const per = PER[args["per"] ?? "second"];
    node.interval = per / rate;
    node.capacity = rate + (args["burst"] ?? 0);
    const key: string = args["key"] ?? "remote_addr";
    node.keyVar = key === "all" ? "" : (keyVariable(key, "key") as string);
    node.written = key;
    node.limitId = `|${node.name.length}:${node.name}|`;
  },
};
