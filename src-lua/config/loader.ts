// The full load: everything under /$ELBNAME/ read from etcd at one revision, each value
// validated like the API does (an invalid one is logged, counted and skipped, and the last
// valid value keeps serving), and only the differences committed to the store, each page as
// soon as it is checked (the workers apply it while etcd reads the next). Keys that are gone
// from etcd are removed once every page was read. Used at start and after a compaction made the watch lose
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
 * Reads etcd once and commits what changed, page by page, for the leader task of lead `term`.
 * Returns why it could not. When the lead is lost meanwhile it commits no more and does not
 * mark the store loaded (the caller checks the lead).
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
  let changed = 0;
  let lost = false;
  let refused: string | undefined = undefined;
  let first = true;
  const commit = (revision: number): void => {
    // a long read can outlast the lead: a new leader may have followed the watch past this
    // revision. What was committed before stays right (the store keeps a key's newest value).
    if (lost || refused !== undefined) return;
    if (!holds(term)) {
      lost = true;
      return;
    }
    const [, cerr] = store.commit(changes, revision, true);
    if (cerr !== undefined) refused = cerr;
    changed += changes.length;
    release(changes);
  };
  // Each page is validated and committed while etcd reads the next one, and the workers apply
  // it meanwhile: a cold load of 100,000 keys spends most of its time waiting for etcd.
  const [revision, err] = etcd().eachPage(rootPrefix(settings.elbName), (kvs, rev) => {
    if (first && rev < store.watchedRevision()) {
      // the values compared below stay as they are; only their revisions are forgotten
      ngx.log(ngx.WARN, `etcd is at revision ${rev}, behind this node's ${store.watchedRevision()}: adopting etcd's configuration`);
      store.rebase();
    }
    first = false;
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
    commit(rev);
  });
  if (revision === undefined) return err;
  for (const key of store.allKeys()) {
    const old = store.read(key);
    if (old !== undefined && old.value !== undefined && !seen.has(key)) changes.push({ key, value: undefined });
  }
  commit(revision);
  if (refused !== undefined) return failure("refused", `etcd's configuration could not be stored here: ${refused}`);
  if (lost) return undefined;
  store.setWatchedRevision(revision);
  store.setStatus("loaded", true);
  store.setStatus("full_reloads", (store.getStatus("full_reloads") ?? 0) + 1);
  recent.record(revision, "load", rootPrefix(settings.elbName), `${n} keys read, ${changed} changed`);
  ngx.update_time();
  ngx.log(ngx.NOTICE, string.format("loaded %d keys from etcd at revision %d in %.2fs, %d changed", n, revision, ngx.now() - started, changed));
  return undefined;
}
