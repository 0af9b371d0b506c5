// /__erulb__/domain: GET every rule set; PUT {domain: ruleset, ...} adds or replaces those
// domains; DELETE ["domain", ...] removes them. Answers as the Eru load balancer does.
import { rulesKey } from "../core/keys";
import { isArray, isObject, sortedKeys } from "../core/json-shape";
import { checkDomain } from "../core/names";
import { describe, pointer, Problem } from "../core/problems";
import { validateRuleSet } from "../core/ruleset";
import { opDeleteRange, opPut, TxnOp } from "../config/etcd";
import { encode } from "../config/json";
import { pcreCheck } from "../config/regex";
import { settings } from "../config/settings";
import { Change } from "../config/store";
import { domains } from "../config/view";
import { applyCommitted, tooManyOps, txn } from "../config/writer";
import * as reply from "./reply";

export function get(): void {
  const names: string[] = [];
  for (const [name] of domains) names.push(name);
  table.sort(names);
  const parts: string[] = [];
  for (const name of names) parts.push(`${encode(name)}:${domains.get(name)!.raw}`);
  reply.raw(200, `{${parts.join(",")}}`);
}

function write(ops: TxnOp[], changes: Change[]): void {
  const tooMany = tooManyOps(ops);
  if (tooMany !== undefined) return reply.fail(tooMany.status, tooMany.msg);
  if (ops.length === 0) return reply.ok();
  const [res, failure] = txn({ success: ops });
  if (res === undefined) return reply.fail(failure!.status, failure!.msg);
  const applied = applyCommitted(changes, res.revision);
  if (applied !== undefined) return reply.fail(applied.status, applied.msg);
  reply.ok();
}

export function put(): void {
  const [ok, body] = reply.readJson();
  if (!ok) return;
  const problems: Problem[] = [];
  if (!isObject(body)) {
    problems.push({ path: "", error: `expected an object of {domain: ruleset}, got ${describe(body)}` });
    return reply.invalid(problems);
  }
  const ops: TxnOp[] = [];
  const changes: Change[] = [];
  for (const name of sortedKeys(body)) {
    const at = pointer("", name);
    const derr = checkDomain(name);
    if (derr !== undefined) problems.push({ path: at, error: derr });
    validateRuleSet(body[name], at, pcreCheck, problems);
    const key = rulesKey(settings.elbName, name);
    const value = encode(body[name]);
    ops.push(opPut(key, value));
    changes.push({ key, value });
  }
  if (problems.length > 0) return reply.invalid(problems);
  write(ops, changes);
}

export function del(): void {
  const [ok, body] = reply.readJson();
  if (!ok) return;
  if (!isArray(body)) return reply.invalid([{ path: "", error: `expected an array of domain names, got ${describe(body)}` }]);
  const problems: Problem[] = [];
  const ops: TxnOp[] = [];
  const changes: Change[] = [];
  const list = body as unknown[];
  const seen = new LuaTable<string, boolean>();
  for (let i = 0; i < list.length; i++) {
    const name = list[i];
    if (typeof name !== "string") {
      problems.push({ path: pointer("", i), error: `must be a domain name (a string), got ${describe(name)}` });
      continue;
    }
    const key = rulesKey(settings.elbName, name);
    if (seen.has(key)) continue;
    seen.set(key, true);
    ops.push(opDeleteRange(key));
    changes.push({ key, value: undefined });
  }
  if (problems.length > 0) return reply.invalid(problems);
  write(ops, changes);
}
