// Keeps this worker's view in step with the node's store (config/store.ts): everything at
// start, then the events after the last one applied. A poll timer runs this every few ms;
// a worker that writes through the admin API calls poll() itself before answering.
import * as store from "./store";
import { applyKey } from "./apply";
import { letOthersRun } from "../node/pause";

/**
 * After this many changes applied at once, a full garbage collection: a load leaves tens of
 * MiB of garbage (texts, decoded values), which would otherwise stay resident until the
 * collector's next cycle.
 */
const COLLECT_AFTER = 10000;

/**
 * While a batch is applied, a step of the collector every this many keys: what applying
 * leaves (texts read from the store, decoded values) is freed as it goes, so the batch's
 * peak, which the allocator keeps as resident memory, stays small (100,000 domains: 15 MiB
 * less per worker). The step's size is in KiB of allocation it stands for.
 */
const STEP_EVERY = 2000;
const STEP_KIB = 2000;

let applied = 0;
let appliedRev = 0;
/** the newest revision among the events taken so far; it counts as applied once a poll ends */
let takenRev = 0;
/** a poll from the timer is under way (and may be yielding) */
let yielding = false;

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
  const keys = store.allKeys();
  for (let i = 0; i < keys.length; i++) {
    applyFromStore(keys[i]);
    if (i % STEP_EVERY === STEP_EVERY - 1) collectgarbage("step", STEP_KIB);
  }
  if (keys.length >= COLLECT_AFTER) collectgarbage();
  applied = seq;
  appliedRev = rev;
  takenRev = rev;
  store.markApplied(ngx.worker.id() ?? 0, applied, appliedRev);
}

/**
 * Applies the events since the last one applied, in order. From a timer (mayYield) it lets
 * other timers run every few hundred changes, so a burst of 100,000 does not starve them;
 * a poll that starts meanwhile (an admin write's) goes on from the same place, so no event
 * is applied twice.
 */
export function poll(mayYield?: boolean): void {
  if (mayYield) {
    // the poll timer does not start a second poll while one yields
    if (yielding) return;
    yielding = true;
    const [ok, err] = pcall(applyNew, true);
    yielding = false;
    if (!ok) ngx.log(ngx.ERR, `applying configuration events: ${err}`);
  } else {
    applyNew(false);
  }
}

function applyNew(mayYield: boolean): void {
  const seq = store.lastSeq();
  if (seq <= applied) return;
  // a key applied by this call already shows its later events up to seq
  const done = new LuaTable<string, boolean>();
  let count = 0;
  while (applied < seq) {
    const n = applied + 1;
    const [key, rev] = store.eventAt(n);
    if (key === undefined) {
      ngx.log(ngx.WARN, `config event ${n} is gone; reapplying the whole configuration`);
      syncAll();
      return;
    }
    applied = n;
    if (rev > takenRev) takenRev = rev;
    if (!done.has(key)) {
      done.set(key, true);
      applyFromStore(key);
      count += 1;
      if (count % STEP_EVERY === 0) collectgarbage("step", STEP_KIB);
      if (mayYield && count % 500 === 0 && applied < seq) letOthersRun();
    }
  }
  // every event taken is applied by now (each is applied as soon as it is taken), but not
  // before: a revision half applied must not be reported, nor written in the snapshot
  if (takenRev > appliedRev) appliedRev = takenRev;
  store.markApplied(ngx.worker.id() ?? 0, applied, appliedRev);
  if (count >= COLLECT_AFTER) collectgarbage();
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
