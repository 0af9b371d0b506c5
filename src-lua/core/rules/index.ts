// Every rule type, by the name a rule set gives it; one module each in core/rules/.
import { backend } from "./backend";
import { ip } from "./ip";
import { limit } from "./limit";
import { method } from "./method";
import { path } from "./path";
import { redirect } from "./redirect";
import { respond } from "./respond";
import { scheme } from "./scheme";
import { split } from "./split";
import { RuleType } from "./type";
import { ua } from "./ua";
import { cookie, header, query } from "./value";

/** In the order messages list them: Eru's three, the matchers, then the rest. */
export const TYPE_NAMES = ["ua", "path", "backend", "header", "cookie", "query", "method", "ip", "scheme", "split", "redirect", "respond", "limit"];

const TYPES: { [type: string]: RuleType } = { ua, path, backend, header, cookie, query, method, ip, scheme, split, redirect, respond, limit };

/** The type named `name`, or undefined. */
export function ruleType(name: unknown): RuleType | undefined {
  if (typeof name !== "string" || TYPE_NAMES.indexOf(name) < 0) return undefined;
  return TYPES[name];
}
