// /__erulb__/policy: GET {upstream: policy} for every policy; PUT {upstream: policy, ...} adds
// or replaces those upstreams' policies (an upstream may get its policy before its servers);
// DELETE ["upstream", ...] removes them (the upstream goes back to the defaults).
import { policyKey } from "../core/keys";
import { isArray, isObject, sortedKeys } from "../core/json-shape";
import { checkUpstreamName } from "../core/names";
import { validatePolicy } from "../core/policy";
import { describe, pointer, Problem } from "../core/problems";
import { opDeleteRange, opPut, TxnOp } from "../config/etcd";
import { encode } from "../config/json";
import { settings } from "../config/settings";
import { Change } from "../config/store";
import { policies } from "../config/view";
import { applyCommitted, tooManyOps, txn } from "../config/writer";
import * as reply from "./reply";

export function get(): void {
  const names: string[] = [];
  for (const [name] of policies) names.push(name);
  table.sort(names);
  const parts: string[] = [];
  for (const name of names) parts.push(`${encode(name)}:${policies.get(name)!.raw}`);
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
  if (!isObject(body)) {
    return reply.invalid([{ path: "", error: `expected an object of {upstream: policy}, got ${describe(body)}` }]);
  }
  const problems: Problem[] = [];
  const ops: TxnOp[] = [];
  const changes: Change[] = [];
  for (const name of sortedKeys(body)) {
    const at = pointer("", name);
    const nerr = checkUpstreamName(name);
    if (nerr !== undefined) problems.push({ path: at, error: nerr });
    validatePolicy(body[name], at, problems);
    const key = policyKey(settings.elbName, name);
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
  if (!isArray(body)) return reply.invalid([{ path: "", error: `expected an array of upstream names, got ${describe(body)}` }]);
  const problems: Problem[] = [];
  const ops: TxnOp[] = [];
  const changes: Change[] = [];
  const list = body as unknown[];
  const seen = new LuaTable<string, boolean>();
  for (let i = 0; i < list.length; i++) {
    const name = list[i];
    const nerr = typeof name === "string" ? checkUpstreamName(name) : `must be an upstream name (a string), got ${describe(name)}`;
    if (nerr !== undefined) {
      problems.push({ path: pointer("", i), error: nerr });
      continue;
    }
    const key = policyKey(settings.elbName, name as string);
    if (seen.has(key)) continue;
    seen.set(key, true);
    ops.push(opDeleteRange(key));
    changes.push({ key, value: undefined });
  }
  if (problems.length > 0) return reply.invalid(problems);
  write(ops, changes);
}
