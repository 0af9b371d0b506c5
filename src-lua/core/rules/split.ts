// split: {"branches": [{"weight": 95, "next": "stable"}, {"weight": 5, "next": "canary"}],
// "hash_on"?}: a weighted choice of the next rule, random per request, or sticky by a hash of
// hash_on (core/rules/choose.ts). A branch of weight 0 gets nothing.
import { hash32 } from "../balancer/hash";
import { isArray, isObject } from "../json-shape";
import { describe, pointer } from "../problems";
import { portableText } from "../text";
import { isWhole } from "../checks";
import { checkKnown, checkWholeArg, requireArg } from "./args";
import { branchByHash } from "./choose";
import { keyVariable } from "./key";
import { RuleKind } from "./node";
import { Edge, RuleType, Slot } from "./type";

export const MAX_BRANCHES = 32;
export const MAX_WEIGHT = 10000;

export const split: RuleType = {
  kind: RuleKind.Split,
  check(args, c) {
    checkKnown("split", args, { branches: "array", hash_on: "string" }, c);
    requireArg(args, "branches", '[{"weight": 95, "next": "<rule>"}, ...]', c);
    const hashOn = args["hash_on"];
    if (typeof hashOn === "string") {
      const v = keyVariable(hashOn, "hash_on");
      if (typeof v !== "string") c.problems.push({ path: pointer(c.at, "hash_on"), error: v.error });
    }
    const list = args["branches"];
    if (!isArray(list)) return;
    const items = list as unknown[];
    const at = pointer(c.at, "branches");
    if (items.length === 0) c.problems.push({ path: at, error: "branches must not be empty" });
    else if (items.length > MAX_BRANCHES) c.problems.push({ path: at, error: `at most ${MAX_BRANCHES} branches` });
    const before = c.problems.length;
    let total = 0;
    for (let i = 0; i < items.length; i++) {
      const b = items[i];
      const bat = pointer(at, i);
      if (!isObject(b)) {
        c.problems.push({ path: bat, error: `a branch must be an object {"weight", "next"}, got ${describe(b)}` });
        continue;
      }
      const sub = { ...c, at: bat };
      checkKnown("split", b, { weight: "number", next: "edge" }, sub, "unknown field (a branch has weight and next)");
      requireArg(b, "weight", `0 to ${MAX_WEIGHT}`, sub);
      requireArg(b, "next", "the rule this branch goes to", sub);
      checkWholeArg(b, "weight", 0, MAX_WEIGHT, sub);
      const w = b["weight"];
      if (isWhole(w)) total = total + (w as number);
    }
    if (items.length > 0 && total === 0 && c.problems.length === before) c.problems.push({ path: at, error: "the weights must not all be 0" });
  },
  edges(args, at) {
    const out: Edge[] = [];
    const list = args["branches"];
    if (!isArray(list)) return out;
    const items = list as unknown[];
    for (let i = 0; i < items.length; i++) {
      const b = items[i];
      if (isObject(b) && typeof b["next"] === "string") out.push({ target: b["next"], at: pointer(pointer(pointer(at, "branches"), i), "next"), slot: Slot.Branch });
    }
    return out;
  },
  compile(args, node) {
    node.weights = [];
    node.cumulative = [];
    let total = 0;
    for (const b of args["branches"] as { weight: number }[]) {
      total = total + b.weight;
      node.weights.push(b.weight);
      node.cumulative.push(total);
    }
    node.total = total;
    node.keyVar = typeof args["hash_on"] === "string" ? (keyVariable(args["hash_on"], "hash_on") as string) : "";
    node.written = args["hash_on"];
  },
};

/** The branch (0-based) a sticky split sends `key` to: what the engine computes per request. */
export function branchOfKey(cumulative: number[], total: number, key: string): number {
  return branchByHash(cumulative, total, hash32(key, portableText.byteAt));
}
