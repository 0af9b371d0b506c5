// Write-through for the admin API: a change goes to etcd in one transaction; only when etcd
// took it does it enter the node's store, and the answer waits until every worker of this
// node applied it.
import { TxnOp, TxnRequest, TxnResult } from "./etcd";
import { etcd } from "./client";
import * as store from "./store";
import { Change } from "./store";
import { poll, waitForWorkers } from "./sync";

/** etcd's default limit of operations in one transaction (--max-txn-ops). */
export const MAX_TXN_OPS = 128;

export interface WriteFailure {
  status: number;
  msg: string;
}

export function txn(req: TxnRequest): LuaMultiReturn<[TxnResult, undefined] | [undefined, WriteFailure]> {
  const [res, err] = etcd().txn(req);
  if (res === undefined) {
    const unreachable = string.find(err!, "etcd unreachable", 1, true)[0] !== undefined;
    store.setStatus("etcd", unreachable ? err! : "connected");
    return $multi(undefined, { status: unreachable ? 503 : 502, msg: `the change was not written: ${err}` });
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
