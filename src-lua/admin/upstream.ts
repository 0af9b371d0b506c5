// /__erulb__/upstream: GET {name: [server, ...]}; PUT {name: {"host:port": "params"}} replaces
// the named upstreams' server lists (others untouched); DELETE ["name", ...] answers
// {name: true|false}, true when the upstream existed.
import { parseHostPort } from "../core/address";
import { serverKey, upstreamPrefix } from "../core/keys";
import { isArray, isObject, sortedKeys } from "../core/json-shape";
import { checkUpstreamName } from "../core/names";
import { describe, pointer, Problem } from "../core/problems";
import { parseServerParams } from "../core/server-params";
import { compareModRevision, opDeleteRange, opPut, prefixEnd, TxnOp, Compare } from "../etcd/kv";
import { etcd } from "../etcd/connection";
import { settings } from "../node/settings";
import { Change } from "../config/store";
import { upstreams } from "../config/view";
import { applyCommitted, etcdFailure, tooManyOps, txn, WriteFailure } from "../config/writer";
import * as health from "../health/report";
import * as reply from "./reply";

export function get(): void {
  const out = new LuaTable<string, unknown[]>();
  for (const [name, up] of upstreams) {
    const addrs: string[] = [];
    for (const [addr] of up.servers) addrs.push(addr);
    table.sort(addrs);
    const list: unknown[] = [];
    for (const addr of addrs) {
      const p = up.servers.get(addr)!.params;
      const s = new LuaTable<string, unknown>();
      s.set("addr", addr);
      s.set("name", addr);
      s.set("weight", p.weight);
      s.set("max_fails", p.maxFails);
      s.set("fail_timeout", p.failTimeout);
      if (p.backup) s.set("backup", true);
      if (p.down) s.set("down", true);
      if (p.drain) s.set("drain", true);
      if (p.slowStart > 0) s.set("slow_start", p.slowStart);
      const h = health.serverHealth(`${name}|${addr}`, p, up.policy.healthcheck !== undefined);
      s.set("state", h.state);
      s.set("healthy", h.healthy);
      s.set("fails", h.fails);
      s.set("active", h.active);
      s.set("changes", h.changes);
      if (h.checkedAt !== undefined) s.set("checked_at", h.checkedAt);
      list.push(s);
    }
    out.set(name, list);
  }
  reply.json(200, out);
}

interface Plan {
  ops: TxnOp[];
  compares: Compare[];
  changes: Change[];
  existed: LuaTable<string, boolean>;
}

/**
 * Reads the current servers of each upstream, then plans a transaction that turns them into
 * `wanted` (undefined: no servers). The compares make etcd refuse it if any of those
 * upstreams changed since the read.
 */
function plan(names: string[], wanted: LuaTable<string, LuaTable<string, string>>): LuaMultiReturn<[Plan, undefined] | [undefined, WriteFailure]> {
  const p: Plan = { ops: [], compares: [], changes: [], existed: new LuaTable() };
  for (const name of names) {
    const prefix = upstreamPrefix(settings.elbName, name);
    const [cur, err] = etcd().range(prefix, prefixEnd(prefix), { keysOnly: true });
    if (cur === undefined) return $multi(undefined, etcdFailure(err!));
    p.compares.push(compareModRevision(prefix, "LESS", cur.revision + 1, prefixEnd(prefix)));
    const servers = wanted.get(name);
    p.existed.set(name, cur.kvs.length > 0);
    for (const kv of cur.kvs) {
      const addr = string.sub(kv.key, prefix.length + 1);
      if (servers === undefined || !servers.has(addr)) {
        p.ops.push(opDeleteRange(kv.key));
        p.changes.push({ key: kv.key, value: undefined });
      }
    }
    if (servers !== undefined) {
      const addrs: string[] = [];
      for (const [addr] of servers) addrs.push(addr);
      table.sort(addrs);
      for (const addr of addrs) {
        const key = serverKey(settings.elbName, name, addr);
        p.ops.push(opPut(key, servers.get(addr)));
        p.changes.push({ key, value: servers.get(addr) });
      }
    }
  }
  return $multi(p, undefined);
}

/** Plans and commits; retries when another writer changed the same upstreams meanwhile. */
function replace(names: string[], wanted: LuaTable<string, LuaTable<string, string>>): LuaMultiReturn<[LuaTable<string, boolean>, undefined] | [undefined, WriteFailure]> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const [p, perr] = plan(names, wanted);
    if (p === undefined) return $multi(undefined, perr!);
    const tooMany = tooManyOps(p.ops);
    if (tooMany !== undefined) return $multi(undefined, tooMany);
    if (p.ops.length === 0) return $multi(p.existed, undefined);
    const [res, failure] = txn({ compare: p.compares, success: p.ops });
    if (res === undefined) return $multi(undefined, failure!);
    if (res.succeeded) {
      const applied = applyCommitted(p.changes, res.revision);
      if (applied !== undefined) return $multi(undefined, applied);
      return $multi(p.existed, undefined);
    }
  }
  return $multi(undefined, { status: 409, msg: "the upstreams kept changing under this request; try again" });
}

export function put(): void {
  const [ok, body] = reply.readJson();
  if (!ok) return;
  if (!isObject(body)) {
    return reply.invalid([{ path: "", error: `expected an object of {upstream: {"host:port": "params"}}, got ${describe(body)}` }]);
  }
  const problems: Problem[] = [];
  const names = sortedKeys(body);
  const wanted = new LuaTable<string, LuaTable<string, string>>();
  for (const name of names) {
    const at = pointer("", name);
    const nerr = checkUpstreamName(name);
    if (nerr !== undefined) problems.push({ path: at, error: nerr });
    const servers = body[name];
    if (!isObject(servers)) {
      problems.push({ path: at, error: `expected an object of {"host:port": "params"}, got ${describe(servers)}` });
      continue;
    }
    const addrs = sortedKeys(servers as { [k: string]: unknown });
    if (addrs.length === 0) problems.push({ path: at, error: "an upstream needs at least one server (DELETE removes an upstream)" });
    const list = new LuaTable<string, string>();
    for (const addr of addrs) {
      const sat = pointer(at, addr);
      const hp = parseHostPort(addr);
      if (typeof hp === "string") problems.push({ path: sat, error: `invalid host:port: ${hp}` });
      const value = (servers as { [k: string]: unknown })[addr];
      if (parseServerParams(value, sat, problems) !== undefined) list.set(addr, value as string);
    }
    wanted.set(name, list);
  }
  if (problems.length > 0) return reply.invalid(problems);
  const [, failure] = replace(names, wanted);
  if (failure !== undefined) return reply.fail(failure.status, failure.msg);
  reply.ok();
}

export function del(): void {
  const [ok, body] = reply.readJson();
  if (!ok) return;
  if (!isArray(body)) return reply.invalid([{ path: "", error: `expected an array of upstream names, got ${describe(body)}` }]);
  const problems: Problem[] = [];
  const names: string[] = [];
  const seen = new LuaTable<string, boolean>();
  const list = body as unknown[];
  for (let i = 0; i < list.length; i++) {
    const name = list[i];
    const nerr = typeof name === "string" ? checkUpstreamName(name) : `must be an upstream name (a string), got ${describe(name)}`;
    if (nerr !== undefined) problems.push({ path: pointer("", i), error: nerr });
    else if (!seen.has(name as string)) {
      seen.set(name as string, true);
      names.push(name as string);
    }
  }
  if (problems.length > 0) return reply.invalid(problems);
  const [existed, failure] = replace(names, new LuaTable());
  if (existed === undefined) return reply.fail(failure!.status, failure!.msg);
  reply.json(200, existed);
}
