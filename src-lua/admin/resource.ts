// What the resources under /__erulb__/ share: a body is planned into keys by the kind's
// description (core/kinds), validated whole, then written through config/write.ts; GET
// returns stored JSON documents as they are.
import { Kind } from "../core/kinds/index";
import { leastPutOps, planDelete, planPut, WritePlan } from "../core/kinds/plan";
import { Problem } from "../core/problems";
import { regexPolicy } from "../core/rules/regex-lint";
import { Warning } from "../core/rules/type";
import { encode } from "../config/json";
import { MAX_TXN_OPS, tooManyOps, write, Written } from "../config/write";
import { settings } from "../node/settings";
import * as fleet from "./fleet";
import * as reply from "./reply";

/** Answers {name: document, ...} from raw JSON texts, without decoding them. */
export function getRaw<T extends { raw: string }>(docs: LuaTable<string, T>): void {
  const names: string[] = [];
  for (const [name] of docs) names.push(name);
  table.sort(names);
  const parts: string[] = [];
  for (const name of names) parts.push(`${encode(name)}:${docs.get(name)!.raw}`);
  reply.raw(200, `{${parts.join(",")}}`);
}

type Planner = (this: void, kind: Kind, elbName: string, body: unknown, problems: Problem[]) => WritePlan;

/**
 * Reads, plans and writes the request's body; undefined when the answer was already sent.
 * What validation found risky but valid (regexes that can backtrack without bound) goes to
 * `warnings`.
 */
function apply(kind: Kind, planner: Planner, warnings: Warning[]): Written | undefined {
  const [ok, body] = reply.readJson();
  if (!ok) return undefined;
  const least = planner === planPut ? leastPutOps(kind, body) : 0;
  if (least > MAX_TXN_OPS) {
    const failure = tooManyOps(least);
    reply.fail(failure.status, failure.msg);
    return undefined;
  }
  const problems: Problem[] = [];
  regexPolicy.warnings = warnings;
  const [planned, plan] = pcall(planner, kind, settings.elbName, body, problems);
  regexPolicy.warnings = undefined;
  if (!planned) error(plan, 0);
  if (problems.length > 0) {
    reply.invalid(problems);
    return undefined;
  }
  const [written, failure] = write(plan);
  if (written === undefined) {
    reply.fail(failure!.status, failure!.msg);
    return undefined;
  }
  // ?wait=fleet: every live node of the fleet applied it, or 504 naming those that have not
  if (!fleet.confirmed(written.revision)) return undefined;
  return written;
}

/** PUT: adds or replaces what the body names; answers OK, with the warnings when there are some. */
export function put(kind: Kind): void {
  const warnings: Warning[] = [];
  if (apply(kind, planPut, warnings) !== undefined) reply.ok(warnings);
}

/** DELETE: removes what the body names; the caller answers (with what existed). */
export function remove(kind: Kind): Written | undefined {
  return apply(kind, planDelete, []);
}
