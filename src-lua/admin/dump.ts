// /__erulb__/dump: PUT writes this node's whole live configuration to etcd, for an etcd that
// was replaced or restored from an old backup (the node noticed its revision went back and
// kept serving what it had). In transactions of at most MAX_TXN_OPS keys; "OK" only when
// every one was written.
import { opPut, TxnOp } from "../etcd/kv";
import * as store from "../config/store";
import { MAX_TXN_OPS, txn } from "../config/writer";
import * as reply from "./reply";

export function put(): void {
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
      const [res, failure] = txn({ success: batch });
      if (res === undefined) {
        return reply.fail(failure!.status, `${failure!.msg} (${written} keys were written before this)`);
      }
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
  reply.ok();
}
