// Writes this node's whole configuration to etcd, for an etcd that was replaced or restored
// from an old backup (the watcher noticed etcd's revision went back and kept serving what it
// had): PUT /__erulb__/dump. In transactions of at most MAX_TXN_OPS keys, unguarded (this
// node's copy is the one to keep); then the node follows etcd again from its revision.
import { opPut, TxnOp } from "../etcd/kv";
import * as store from "./store";
import { MAX_TXN_OPS, txn, WriteFailure } from "./write";

export function republish(): WriteFailure | undefined {
  const keys = store.allKeys();
  table.sort(keys);
  let batch: TxnOp[] = [];
  let written = 0;
  for (let i = 0; i <= keys.length; i++) {
    if (i < keys.length) {
      const e = store.read(keys[i]);
      if (e !== undefined && e.value !== undefined) batch.push(opPut(keys[i], e.value));
    }
    if (batch.length === MAX_TXN_OPS || (i === keys.length && batch.length > 0)) {
      const [res, failure] = txn([], batch);
      if (res === undefined) return { status: failure!.status, msg: `${failure!.msg} (${written} keys were written before this)` };
      written += batch.length;
      batch = [];
    }
  }
  if (store.getStatus("diverged") === true) {
    // etcd now holds this node's configuration: follow it again from its revision
    store.rebase();
    store.setStatus("diverged", false);
    store.setStatus("loaded", false);
  }
  return undefined;
}
