// The full load: everything under /$ELBNAME/ read from etcd at one revision, each value
// validated like the API does (an invalid one is logged, counted and skipped, and the last
// valid value keeps serving), and only the differences committed to the store. Keys that
// are gone from etcd are removed. Used at start and after a compaction made the watch lose
// its place; unchanged entries stay as they are, so nothing is recompiled for nothing.
import { checkStored, parseKey, rootPrefix, Verdicts } from "../core/kinds/index";
import { Problem } from "../core/problems";
import { etcd } from "../etcd/connection";
import { EtcdFailure, failure } from "../etcd/failure";
import { holds } from "../node/leader";
import { settings } from "../node/settings";
import * as recent from "./recent";
import * as store from "./store";
import { Change } from "./store";
import { letOthersRun } from "../node/pause";
import { release } from "./garbage";

/** Validates a value from etcd; logs and records it when invalid. `known`: see checkStored. */
export function admit(key: string, value: string, rev: number, known?: Verdicts): boolean {
  const problems: Problem[] = checkStored(settings.elbName, key, value, known);
  if (problems.length === 0) {
    store.clearInvalid(key);
    return true;
  }
  const parts: string[] = [];
  for (const p of problems) parts.push(p.error);
  const why = parts.join("; ");
  ngx.log(ngx.ERR, `etcd key ${key} (revision ${rev}) is invalid and skipped: ${why}`);
  store.markInvalid(key, rev, why);
  return false;
}

/**
 * Reads etcd once and commits what changed, for the leader task of lead `term`. Returns why
 * it could not; nothing is committed when the lead was lost meanwhile (the caller checks).
 */
export function loadAll(term: number): EtcdFailure | undefined {
  const changes: Change[] = [];
  const seen = new LuaTable<string, boolean>();
  const known: Verdicts = {};
  const err = readAndCommit(term, changes, seen, known);
  release(changes);
  release(seen);
  release(known);
  return err;
}

function readAndCommit(term: number, changes: Change[], seen: LuaTable<string, boolean>, known: Verdicts): EtcdFailure | undefined {
  ngx.update_time();
  const started = ngx.now();
  let n = 0;
  // each page is validated while etcd reads the next one
  const [revision, err] = etcd().eachPage(rootPrefix(settings.elbName), (kvs) => {
    for (const kv of kvs) {
      if (parseKey(settings.elbName, kv.key) === undefined) continue;
      seen.set(kv.key, true);
      n += 1;
      // let the leader's other timers (its lead renewal) run during a long load
      if (n % 500 === 0) letOthersRun();
      if (!admit(kv.key, kv.value, kv.modRevision, known)) continue;
      const old = store.read(kv.key);
      if (old === undefined || old.value !== kv.value) changes.push({ key: kv.key, value: kv.value });
    }
  });
  if (revision === undefined) return err;
  for (const key of store.allKeys()) {
    const old = store.read(key);
    if (old !== undefined && old.value !== undefined && !seen.has(key)) changes.push({ key, value: undefined });
  }
  // a long read can outlast the lead: the new leader may already have followed the watch
  // past this revision, and committing this older read would set it back
  if (!holds(term)) return undefined;
  if (revision < store.watchedRevision()) {
    // the values compared above stay as they are; only their revisions are forgotten
    ngx.log(ngx.WARN, `etcd is at revision ${revision}, behind this node's ${store.watchedRevision()}: adopting etcd's configuration`);
    store.rebase();
  }
  const [, cerr] = store.commit(changes, revision, true);
  if (cerr !== undefined) return failure("refused", `etcd's configuration could not be stored here: ${cerr}`);
  store.setWatchedRevision(revision);
  store.setStatus("loaded", true);
  store.setStatus("full_reloads", (store.getStatus("full_reloads") ?? 0) + 1);
  recent.record(revision, "load", rootPrefix(settings.elbName), `${n} keys read, ${changes.length} changed`);
  ngx.update_time();
  ngx.log(ngx.NOTICE, string.format("loaded %d keys from etcd at revision %d in %.2fs, %d changed", n, revision, ngx.now() - started, changes.length));
  return undefined;
}
