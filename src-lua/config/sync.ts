// Keeps this worker's view in step with the node's store (config/store.ts): everything at
// start, then the events after the last one applied. A poll timer runs this every few ms;
// a worker that writes through the admin API calls poll() itself before answering.
import * as store from "./store";
import { applyKey } from "./apply";

let applied = 0;
let appliedRev = 0;

function applyFromStore(key: string): void {
  const e = store.read(key);
  applyKey(key, e === undefined ? undefined : e.value, true);
}

export function appliedSeq(): number {
  return applied;
}

/** The etcd revision of the newest change this worker applied. */
export function appliedRevision(): number {
  return appliedRev;
}

/** Applies every key in the store: at worker start, or when events were lost. */
export function syncAll(): void {
  const seq = store.lastSeq();
  const rev = store.revision();
  for (const key of store.allKeys()) applyFromStore(key);
  applied = seq;
  appliedRev = rev;
  store.markApplied(ngx.worker.id() ?? 0, applied, appliedRev);
}

/**
 * Applies the events since the last poll, in order. From a timer (mayYield) it lets other
 * timers run every few hundred changes, so a burst of 100,000 does not starve them.
 */
export function poll(mayYield?: boolean): void {
  const seq = store.lastSeq();
  if (seq <= applied) return;
  const done = new LuaTable<string, boolean>();
  for (let n = applied + 1; n <= seq; n++) {
    const [key, rev] = store.eventAt(n);
    if (key === undefined) {
      ngx.log(ngx.WARN, `config event ${n} is gone; reapplying the whole configuration`);
      syncAll();
      return;
    }
    if (!done.has(key)) {
      done.set(key, true);
      applyFromStore(key);
      if (mayYield && n % 500 === 0) ngx.sleep(0);
    }
    if (rev > appliedRev) appliedRev = rev;
  }
  if (seq > applied) applied = seq; // another poll may have run while this one yielded
  store.markApplied(ngx.worker.id() ?? 0, applied, appliedRev);
}

/** Waits (yielding) until every worker of this node applied event `seq`; false on timeout. */
export function waitForWorkers(seq: number, timeoutSeconds: number): boolean {
  const n = ngx.worker.count();
  const deadline = ngx.now() + timeoutSeconds;
  for (;;) {
    let all = true;
    for (let w = 0; w < n; w++) {
      if (store.appliedBy(w) < seq) all = false;
    }
    if (all) return true;
    if (ngx.now() >= deadline) return false;
    ngx.sleep(0.001);
    ngx.update_time();
  }
}
