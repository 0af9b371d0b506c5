// One check for every value that may enter the configuration, whether it comes from the
// admin API, from etcd at load, or (later) from the watcher: the same rules everywhere.
import { parseHostPort } from "../core/address";
import { KeyKind, parseKey } from "../core/keys";
import { checkDomain, checkUpstreamName } from "../core/names";
import { validatePolicy } from "../core/policy";
import { Problem } from "../core/problems";
import { validateRuleSet } from "../core/ruleset";
import { parseServerParams } from "../core/server-params";
import { decode } from "./json";
import { pcreCheck } from "./regex";
import { settings } from "../node/settings";

/** Problems with `value` stored at etcd `key`; empty when it is valid or not ELB's key. */
export function checkStoredValue(key: string, value: string): Problem[] {
  const problems: Problem[] = [];
  const k = parseKey(settings.elbName, key);
  if (k === undefined) return problems;
  if (k.kind === KeyKind.Rules) {
    const derr = checkDomain(k.name);
    if (derr !== undefined) problems.push({ path: key, error: derr });
    const [rs, err] = decode(value);
    if (err !== undefined) problems.push({ path: key, error: `invalid JSON: ${err}` });
    else validateRuleSet(rs, key, pcreCheck, problems);
  } else if (k.kind === KeyKind.Policy) {
    const nerr = checkUpstreamName(k.name);
    if (nerr !== undefined) problems.push({ path: key, error: nerr });
    const [policy, err] = decode(value);
    if (err !== undefined) problems.push({ path: key, error: `invalid JSON: ${err}` });
    else validatePolicy(policy, key, problems);
  } else {
    const nerr = checkUpstreamName(k.name);
    if (nerr !== undefined) problems.push({ path: key, error: nerr });
    const hp = parseHostPort(k.addr);
    if (typeof hp === "string") problems.push({ path: key, error: `invalid host:port: ${hp}` });
    parseServerParams(value, key, problems);
  }
  return problems;
}
