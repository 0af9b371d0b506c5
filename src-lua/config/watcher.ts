// The node's one etcd watch, run by the leading worker. It starts at the revision the node
// has seen (the initial load, the on-disk snapshot, or a previous leader's progress) + 1, so
// no change is lost; each change is validated like the API validates, committed to the store
// at its revision, and every worker applies it from the event log. When the stream drops it
// reconnects with backoff and jitter (trying the other endpoints); when etcd compacted the
// revision it needs, it does one full reload.
import { parseKey, rootPrefix } from "../core/kinds/index";
import { prefixEnd } from "../etcd/kv";
import { WatchEvent } from "../etcd/watch";
import { etcd } from "../etcd/connection";
import { EtcdFailure, failure } from "../etcd/failure";
import { holds } from "../node/leader";
import { admit, loadAll } from "./loader";
import { settings } from "../node/settings";
import * as recent from "./recent";
import * as store from "./store";
import { Change } from "./store";

const READ_TIMEOUT_MS = 1000;

/**
 * Commits one watch message's events, a revision at a time, in etcd's order. A revision that
 * changed no configuration key (a node's registry entry) is only marked as seen: the store's
 * revision, which the registry publishes, stays that of the newest configuration change. One
 * whose values were all refused still counts as applied (they are skipped, as documented).
 */
function commitEvents(events: WatchEvent[]): void {
  let batch: Change[] = [];
  let batchRev = 0;
  let routing = false;
  for (let i = 0; i <= events.length; i++) {
    const ev = events[i];
    const rev = ev === undefined ? -1 : ev.kv.modRevision;
    if (batchRev !== 0 && rev !== batchRev) {
      if (routing) {
        const [, err] = store.commit(batch, batchRev);
        if (err !== undefined) ngx.log(ngx.ERR, `cannot apply revision ${batchRev}: ${err}`);
      }
      store.setWatchedRevision(batchRev);
      batch = [];
      routing = false;
    }
    if (ev === undefined) break;
    batchRev = rev;
    const key = ev.kv.key;
    if (parseKey(settings.elbName, key) === undefined) continue;
    routing = true;
    if (ev.type === "delete") {
      store.clearInvalid(key);
      batch.push({ key, value: undefined });
      recent.record(rev, "delete", key, "");
    } else if (admit(key, ev.kv.value, rev)) {
      batch.push({ key, value: ev.kv.value });
      recent.record(rev, "put", key, "");
    } else {
      recent.record(rev, "invalid", key, store.invalidKeys().get(key)?.error ?? "");
    }
  }
}

/** Follows one watch stream until it ends: why, or undefined when the lead was lost. */
function follow(fromRev: number, term: number): EtcdFailure | undefined {
  const [stream, err] = etcd().watch(rootPrefix(settings.elbName), { prefix: true, startRevision: fromRev, progressNotify: true });
  if (stream === undefined) return err;
  store.setStatus("etcd", "connected");
  let why: EtcdFailure | undefined = undefined;
  while (holds(term) && !ngx.worker.exiting()) {
    const [msg, merr] = stream.next(READ_TIMEOUT_MS);
    if (msg === undefined) {
      if (merr!.kind === "timeout") continue;
      why = merr;
      break;
    }
    if (msg.canceled) {
      why = failure("stream ended", `etcd: watch canceled: ${msg.cancelReason ?? "no reason given"}`);
      break;
    }
    if (msg.events.length > 0) commitEvents(msg.events);
    else if (msg.revision > 0) store.setWatchedRevision(msg.revision); // a progress notification
  }
  stream.close();
  return why;
}

/**
 * While the node runs, etcd's revision must not go back. If it does, etcd was replaced or
 * restored: the node keeps serving what it has rather than follow an empty or old etcd, and
 * waits for the operator: PUT /__erulb__/dump writes this node's configuration there (and
 * the node follows etcd again), or a restart adopts etcd's.
 */
function checkNotBehind(): EtcdFailure | undefined {
  const root = rootPrefix(settings.elbName);
  const [res, err] = etcd().range(root, prefixEnd(root), { countOnly: true });
  if (res === undefined) return err;
  if (res.revision >= store.watchedRevision()) {
    store.setStatus("diverged", false);
    return undefined;
  }
  store.setStatus("diverged", true);
  return failure("refused", `etcd's revision ${res.revision} is behind this node's ${store.watchedRevision()}: etcd was replaced or restored; this node keeps its configuration until PUT /__erulb__/dump writes it to etcd, or a restart adopts etcd's`);
}

/** Waits out a retry delay, cut short when an admin write just found etcd answering (write.ts). */
function backoff(seconds: number, term: number): void {
  store.setStatus("wake_watch", false);
  ngx.update_time();
  const deadline = ngx.now() + seconds;
  while (ngx.now() < deadline && holds(term) && store.getStatus("wake_watch") !== true) {
    ngx.sleep(0.05);
    ngx.update_time();
  }
}

export function run(this: void, premature: boolean, term: number): void {
  if (premature) return;
  let delay = 0.1;
  while (holds(term) && !ngx.worker.exiting()) {
    let err: EtcdFailure | undefined = undefined;
    if (store.getStatus("loaded") !== true || store.watchedRevision() === 0) {
      err = loadAll(term);
      // what a load read (pages, texts, the change list) is garbage now: tens of MiB at 100,000
      // keys (not after a failed try: a retry loop would collect a restored store each time)
      if (err === undefined) collectgarbage();
    }
    if (!holds(term)) break;
    if (err === undefined) err = checkNotBehind();
    if (err === undefined) {
      const from = store.watchedRevision() + 1;
      err = follow(from, term);
      if (err === undefined) break; // the lead was lost
      if (err.kind === "compacted") {
        ngx.log(ngx.WARN, `compacted: revision ${from} is gone (${err.message}); reloading everything`);
        store.setStatus("loaded", false);
        delay = 0.1;
        continue;
      }
    }
    store.setStatus("etcd", err.message);
    ngx.log(ngx.ERR, `etcd: ${err.message}; retrying in about ${delay}s`);
    backoff(delay * (0.5 + math.random()), term);
    delay = delay * 2 > 5 ? 5 : delay * 2;
    if (err.kind === "stream ended") delay = 0.1;
  }
}
