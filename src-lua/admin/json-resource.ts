// What /__erulb__/domain and /__erulb__/policy share: a map of names to JSON documents, each
// stored at its own etcd key. GET returns the stored JSON as it is; PUT validates the whole
// body, then writes every document in one transaction; DELETE removes the named keys.
import { isArray, isObject, sortedKeys } from "../core/json-shape";
import { describe, pointer, Problem } from "../core/problems";
import { opDeleteRange, opPut, TxnOp } from "../etcd/kv";
import { encode } from "../config/json";
import { Change } from "../config/store";
import { applyCommitted, tooManyOps, txn } from "../config/writer";
import * as reply from "./reply";

export interface JsonResource {
  /** e.g. "domain" or "upstream", for messages */
  noun: string;
  /** e.g. "ruleset" or "policy", for messages */
  document: string;
  keyOf(this: void, name: string): string;
  checkName(this: void, name: string): string | undefined;
  /** adds what is wrong with a document at JSON pointer `at` */
  validate(this: void, doc: unknown, at: string, problems: Problem[]): void;
}

/** Answers {name: document, ...} from raw JSON texts, without decoding them. */
export function getRaw<T extends { raw: string }>(docs: LuaTable<string, T>): void {
  const names: string[] = [];
  for (const [name] of docs) names.push(name);
  table.sort(names);
  const parts: string[] = [];
  for (const name of names) parts.push(`${encode(name)}:${docs.get(name)!.raw}`);
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

export function put(r: JsonResource): void {
  const [ok, body] = reply.readJson();
  if (!ok) return;
  if (!isObject(body)) {
    return reply.invalid([{ path: "", error: `expected an object of {${r.noun}: ${r.document}}, got ${describe(body)}` }]);
  }
  const problems: Problem[] = [];
  const ops: TxnOp[] = [];
  const changes: Change[] = [];
  for (const name of sortedKeys(body)) {
    const at = pointer("", name);
    const nerr = r.checkName(name);
    if (nerr !== undefined) problems.push({ path: at, error: nerr });
    r.validate(body[name], at, problems);
    const key = r.keyOf(name);
    const value = encode(body[name]);
    ops.push(opPut(key, value));
    changes.push({ key, value });
  }
  if (problems.length > 0) return reply.invalid(problems);
  write(ops, changes);
}

export function del(r: JsonResource): void {
  const [ok, body] = reply.readJson();
  if (!ok) return;
  if (!isArray(body)) return reply.invalid([{ path: "", error: `expected an array of ${r.noun} names, got ${describe(body)}` }]);
  const problems: Problem[] = [];
  const ops: TxnOp[] = [];
  const changes: Change[] = [];
  const seen = new LuaTable<string, boolean>();
  const list = body as unknown[];
  for (let i = 0; i < list.length; i++) {
    const name = list[i];
    if (typeof name !== "string") {
      problems.push({ path: pointer("", i), error: `must be a ${r.noun} name (a string), got ${describe(name)}` });
      continue;
    }
    const key = r.keyOf(name);
    if (seen.has(key)) continue;
    seen.set(key, true);
    ops.push(opDeleteRange(key));
    changes.push({ key, value: undefined });
  }
  if (problems.length > 0) return reply.invalid(problems);
  write(ops, changes);
}
