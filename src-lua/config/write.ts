// The one way the admin API changes the configuration:
//   validate (the caller, with core/kinds) -> one etcd transaction guarded by compares on what
//   this node has seen -> wait until the node's watch brought that revision in and every
//   worker applied it, through the same path as any other change (watcher -> store -> sync).
// The guard covers exactly what the plan read: a group replaced whole (an upstream's servers)
// is planned from the members this worker's view holds at revision W, so no key of the group
// may have changed after W. When another writer got there first, the node follows the watch
// past it and plans again (at most ATTEMPTS times, then 409), so a replaced group never keeps
// a member written meanwhile. A document written or deleted by name reads nothing: the last
// writer wins, in etcd's order, as with etcdctl.
import { WritePlan } from "../core/kinds/plan";
import { etcd } from "../etcd/connection";
import { EtcdFailure } from "../etcd/failure";
import { Compare, compareModRevision, opDeleteRange, opPut, prefixEnd, TxnOp, TxnResult } from "../etcd/kv";
import { memberKeys } from "./apply";
import { settings } from "../node/settings";
import * as store from "./store";
import { poll, waitForWorkers } from "./sync";

/** etcd's default limit of operations in one transaction (--max-txn-ops). */
export const MAX_TXN_OPS = 128;
/** What one operation or compare adds to a transaction's size, besides its key and value. */
const OP_OVERHEAD = 32;
const ATTEMPTS = 5;
/** How long a written change may take to come back through the watch and reach every worker. */
const APPLY_WAIT = 10;

export interface WriteFailure {
  status: number;
  msg: string;
}

/**
 * What an etcd failure means for the caller: 503 when no endpoint could be reached (nothing
 * was written), 504 when the request was sent but no answer came (etcd may still apply it,
 * and this node will then serve it like any other change), 502 when etcd refused it.
 */
export function etcdFailure(err: EtcdFailure): WriteFailure {
  if (err.kind === "refused" && (string.find(err.message, "request is too large", 1, true)[0] !== undefined || string.find(err.message, "larger than max", 1, true)[0] !== undefined)) {
    return { status: 413, msg: `the change was not written: etcd refused it as too large (${err.message}); split it into smaller changes` };
  }
  if (err.kind === "outcome unknown") {
    return { status: 504, msg: `the outcome of the change is unknown: ${err.message}; read it back before retrying` };
  }
  return { status: err.kind === "unreachable" ? 503 : 502, msg: `the change was not written: ${err.message}` };
}

/** One transaction, straight to etcd; the node's etcd status follows what happened. */
export function txn(compare: Compare[], ops: TxnOp[]): LuaMultiReturn<[TxnResult, undefined] | [undefined, WriteFailure]> {
  const [res, err] = etcd().txn({ compare, success: ops });
  if (res === undefined) {
    store.setStatus("etcd", err!.kind === "refused" ? "connected" : err!.message);
    return $multi(undefined, etcdFailure(err!));
  }
  store.setStatus("etcd", "connected");
  // etcd answered: a watch waiting out its reconnect backoff may try again now
  store.setStatus("wake_watch", true);
  return $multi(res, undefined);
}

export function tooManyOps(n: number): WriteFailure {
  return { status: 400, msg: `this change needs ${n} etcd operations; one transaction holds at most ${MAX_TXN_OPS}: split it` };
}

function len(s: string | undefined): number {
  return s === undefined ? 0 : s.length;
}

/** About the size of a transaction as etcd counts it against --max-request-bytes (keys and values as bytes). */
export function txnBytes(compares: Compare[], ops: TxnOp[]): number {
  // the gateway's fields are base64: 4 characters for 3 bytes
  let n = 0;
  for (const c of compares) n += math.ceil((len(c.key) + len(c.range_end)) * 3 / 4) + OP_OVERHEAD;
  for (const op of ops) {
    const r = (op.request_put ?? op.request_delete_range ?? op.request_range) as { key?: string; value?: string; range_end?: string };
    n += math.ceil((len(r.key) + len(r.value) + len(r.range_end)) * 3 / 4) + OP_OVERHEAD;
  }
  return n;
}

function tooLarge(n: number): WriteFailure {
  const most = settings.etcdMaxRequestBytes;
  return {
    status: 413,
    msg: `this change is about ${n} bytes; one etcd transaction holds at most ${most} (etcd's --max-request-bytes; ELB_ETCD_MAX_REQUEST_BYTES): split it into smaller changes, or raise both`,
  };
}

/** Waits (yielding) until the node's watch has seen revision `rev`; false on timeout. */
function waitWatched(rev: number, seconds: number): boolean {
  const deadline = ngx.now() + seconds;
  while (store.watchedRevision() < rev) {
    if (ngx.now() >= deadline) return false;
    ngx.sleep(0.001);
    ngx.update_time();
  }
  return true;
}

/** The result of a write: the revision etcd gave it, and which groups had members before. */
export interface Written {
  revision: number;
  existed: LuaTable<string, boolean>;
}

interface Planned {
  ops: TxnOp[];
  compares: Compare[];
  existed: LuaTable<string, boolean>;
}

/** The operations and guards for `plan`, against this worker's view at revision `seen`. */
function prepare(plan: WritePlan, seen: number): Planned {
  const p: Planned = { ops: [], compares: [], existed: new LuaTable() };
  const written = new LuaTable<string, boolean>();
  for (const put of plan.puts) {
    written.set(put.key, true);
    p.ops.push(opPut(put.key, put.value));
  }
  for (const key of plan.deletes) p.ops.push(opDeleteRange(key));
  const invalid = store.invalidKeys();
  for (const g of plan.groups) {
    const keys = memberKeys(plan.kind, g.name);
    // values written by hand that failed validation are members too: they go with the group
    for (const [key] of invalid) if (string.sub(key, 1, g.prefix.length) === g.prefix) keys.push(key);
    p.existed.set(g.name, keys.length > 0);
    for (const key of keys) if (!written.has(key)) p.ops.push(opDeleteRange(key));
    p.compares.push(compareModRevision(g.prefix, "LESS", seen + 1, prefixEnd(g.prefix)));
  }
  return p;
}

/** Writes `plan` (see the top of this file); the answer comes once every worker applied it. */
export function write(plan: WritePlan): LuaMultiReturn<[Written, undefined] | [undefined, WriteFailure]> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    // everything up to `seen` was committed before it was recorded: this poll applies it
    const seen = store.watchedRevision();
    poll();
    const p = prepare(plan, seen);
    const most = p.ops.length > p.compares.length ? p.ops.length : p.compares.length;
    if (most > MAX_TXN_OPS) return $multi(undefined, tooManyOps(most));
    const bytes = txnBytes(p.compares, p.ops);
    if (bytes > settings.etcdMaxRequestBytes) return $multi(undefined, tooLarge(bytes));
    if (p.ops.length === 0) return $multi({ revision: seen, existed: p.existed }, undefined);
    const [res, failure] = txn(p.compares, p.ops);
    if (res === undefined) return $multi(undefined, failure!);
    if (res.succeeded) {
      if (!waitWatched(res.revision, APPLY_WAIT)) {
        return $multi(undefined, { status: 503, msg: `written to etcd at revision ${res.revision}, but this node's watch of etcd has not brought it back within ${APPLY_WAIT}s (etcd: ${store.getStatus("etcd")}); it is applied when the watch catches up` });
      }
      const seq = store.lastSeq();
      poll();
      if (!waitForWorkers(seq, APPLY_WAIT)) ngx.log(ngx.WARN, `not every worker applied event ${seq} within ${APPLY_WAIT}s`);
      return $multi({ revision: res.revision, existed: p.existed }, undefined);
    }
    // another writer changed these keys after `seen`: follow the watch past it, plan again
    waitWatched(res.revision, APPLY_WAIT);
    ngx.sleep(0.002 * math.random() * (attempt + 1));
  }
  return $multi(undefined, { status: 409, msg: `the keys of this change kept changing under it (${ATTEMPTS} attempts); nothing was written: try again` });
}
