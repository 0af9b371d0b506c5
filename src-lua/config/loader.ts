// The initial load: one worker of the node reads everything under /$ELBNAME/ from etcd,
// validates each value like the API does (an invalid one is logged, counted and skipped,
// and the last valid value keeps serving), and commits the differences to the store at the
// revision it read. While etcd cannot be reached it retries with backoff; the node serves
// what it has meanwhile. The live watch (a later step) continues from that revision.
import { parseKey, rootPrefix } from "../core/keys";
import { etcd } from "./client";
import { settings } from "./settings";
import * as store from "./store";
import { Change } from "./store";
import { checkStoredValue } from "./validate";

const locks = ngx.shared.elb_locks!;
const LOCK_TTL = 30;

/** Reads etcd once and commits what changed. Returns an error message when it could not. */
export function loadAll(): string | undefined {
  const [res, err] = etcd().getPrefix(rootPrefix(settings.elbName));
  if (res === undefined) return err;
  const changes: Change[] = [];
  const seen = new LuaTable<string, boolean>();
  for (const kv of res.kvs) {
    if (parseKey(settings.elbName, kv.key) === undefined) continue;
    seen.set(kv.key, true);
    const problems = checkStoredValue(kv.key, kv.value);
    if (problems.length > 0) {
      const parts: string[] = [];
      for (const p of problems) parts.push(p.error);
      const why = parts.join("; ");
      ngx.log(ngx.ERR, `etcd key ${kv.key} (revision ${kv.modRevision}) is invalid and skipped: ${why}`);
      store.markInvalid(kv.key, kv.modRevision, why);
      continue;
    }
    store.clearInvalid(kv.key);
    const old = store.read(kv.key);
    if (old === undefined || old.value !== kv.value) changes.push({ key: kv.key, value: kv.value });
  }
  for (const key of store.allKeys()) {
    const old = store.read(key);
    if (old !== undefined && old.value !== undefined && !seen.has(key)) changes.push({ key, value: undefined });
  }
  const [, cerr] = store.commit(changes, res.revision);
  if (cerr !== undefined) return cerr;
  store.setStatus("loaded_rev", res.revision);
  ngx.log(ngx.NOTICE, `loaded ${res.kvs.length} keys from etcd at revision ${res.revision} (${changes.length} changed)`);
  return undefined;
}

function attempt(this: void, premature: boolean, delay: number): void {
  if (premature) return;
  const [mine] = locks.add("loader", ngx.worker.pid(), LOCK_TTL);
  if (!mine) {
    const [holder] = locks.get("loader");
    if (holder !== ngx.worker.pid()) return; // another worker is loading
  }
  const err = loadAll();
  if (err === undefined) {
    store.setStatus("etcd", "connected");
    store.setStatus("loaded", true);
    locks.delete("loader");
    return;
  }
  store.setStatus("etcd", err);
  ngx.log(ngx.ERR, `initial load failed, retrying in ${delay}s: ${err}`);
  locks.set("loader", ngx.worker.pid(), LOCK_TTL);
  const next = delay * 2 > 10 ? 10 : delay * 2;
  ngx.timer.at(delay * (0.75 + math.random() * 0.5), attempt, next);
}

/** Called by every worker at start: the first to take the loader lock does the load. */
export function start(): void {
  if (store.getStatus("loaded") === true) return;
  ngx.timer.at(0, attempt, 0.2);
}
