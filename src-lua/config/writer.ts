// Write-through for the admin API: a change goes to etcd in one transaction; only when etcd
// took it does it enter the node's store, and the answer waits until every worker of this
// node applied it.
import { EtcdFailure } from "../etcd/failure";
import { TxnOp, TxnRequest, TxnResult } from "../etcd/kv";
import { etcd } from "../etcd/connection";
import * as store from "./store";
import { Change } from "./store";
import { poll, waitForWorkers } from "./sync";

/** etcd's default limit of operations in one transaction (--max-txn-ops). */
export const MAX_TXN_OPS = 128;

export interface WriteFailure {
  status: number;
  msg: string;
}

/**
 * What an etcd error means for the caller: 503 when no endpoint could be reached (nothing
 * was written), 504 when the request was sent but no answer came (etcd may still apply it,
 * and this node will then serve it like any other change), 502 when etcd refused it.
 */
export function etcdFailure(err: EtcdFailure): WriteFailure {
  if (err.kind === "outcome unknown") {
    return { status: 504, msg: `the outcome of the change is unknown: ${err.message}; read it back before retrying` };
  }
  return { status: err.kind === "unreachable" ? 503 : 502, msg: `the change was not written: ${err.message}` };
}

export function txn(req: TxnRequest): LuaMultiReturn<[TxnResult, undefined] | [undefined, WriteFailure]> {
  const [res, err] = etcd().txn(req);
  if (res === undefined) {
    const failure = etcdFailure(err!);
    store.setStatus("etcd", err!.kind === "refused" ? "connected" : err!.message);
    return $multi(undefined, failure);
  }
  store.setStatus("etcd", "connected");
  return $multi(res, undefined);
}

/** Records changes etcd accepted at `rev` and waits until all workers applied them. */
export function applyCommitted(changes: Change[], rev: number): WriteFailure | undefined {
  const [seq, err] = store.commit(changes, rev);
  if (seq === undefined) return { status: 503, msg: `written to etcd at revision ${rev}, but not applied here: ${err}` };
  poll();
  if (!waitForWorkers(seq, 3)) ngx.log(ngx.WARN, `not every worker applied event ${seq} within 3s`);
  return undefined;
}

export function tooManyOps(ops: TxnOp[]): WriteFailure | undefined {
  if (ops.length <= MAX_TXN_OPS) return undefined;
  return { status: 400, msg: `this change needs ${ops.length} etcd operations; one transaction holds at most ${MAX_TXN_OPS}: split it` };
}
