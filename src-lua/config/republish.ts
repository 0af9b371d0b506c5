// Writes this node's whole configuration to etcd, for an etcd that was replaced or restored
// from an old backup (the watcher noticed etcd's revision went back and kept serving what it
// had): PUT /__erulb__/dump. In transactions of at most MAX_TXN_OPS keys and etcd's request
// size (ELB_ETCD_MAX_REQUEST_BYTES), unguarded (this
// node's copy is the one to keep); then the node follows etcd again from its revision.
import { opPut, TxnOp } from "../etcd/kv";
import { settings } from "../node/settings";
import * as store from "./store";
import { MAX_TXN_OPS, txn, txnBytes, WriteFailure } from "./write";

export function republish(): WriteFailure | undefined {
  const keys = store.allKeys();
  table.sort(keys);
  let batch: TxnOp[] = [];
  let bytes = 0;
  let written = 0;
  const flush = (): WriteFailure | undefined => {
    if (batch.length === 0) return undefined;
    const [res, failure] = txn([], batch);
    if (res === undefined) return { status: failure!.status, msg: `${failure!.msg} (${written} keys were written before this)` };
    written += batch.length;
    batch = [];
    bytes = 0;
    return undefined;
  };
  for (const key of keys) {
    const e = store.read(key);
    if (e === undefined || e.value === undefined) continue;
    const op = opPut(key, e.value);
    const size = txnBytes([], [op]);
    if (batch.length === MAX_TXN_OPS || (batch.length > 0 && bytes + size > settings.etcdMaxRequestBytes)) {
      const failure = flush();
      if (failure !== undefined) return failure;
    }
    batch.push(op);
    bytes += size;
  }
  const failure = flush();
  if (failure !== undefined) return failure;
  if (store.getStatus("diverged") === true) {
    // etcd now holds this node's configuration: follow it again from its revision
    store.rebase();
    store.setStatus("diverged", false);
    store.setStatus("loaded", false);
  }
  return undefined;
}
