// The node's copy of the configuration, in the elb_config shared dict, and the event log
// through which every worker learns what changed:
//   v|<etcd key>  = "<revision>|P|<value>" (present) or "<revision>|D|" (a tombstone)
//   seq           = number of the last event;  e|<n> = "<revision>|<etcd key>" it changed
//   rev           = the highest etcd revision any stored change came from
//   s|watch_rev   = the revision up to which this node has seen every change (load + watch)
//   w|<worker id> = "<event>|<revision>|<time>": the last event that worker applied
// Only values that passed validation get here. A writer takes the elb_locks "store" lock,
// so changes enter in one order; each is kept only if it is newer than what is stored.

import { letOthersRun } from "../node/pause";

const dict = ngx.shared.elb_config!;
const locks = ngx.shared.elb_locks!;

/** Events older than this are dropped; a worker that far behind reloads everything. */
const EVENT_TTL = 600;
const TOMBSTONE_TTL = 600;

export interface Change {
  key: string;
  /** undefined deletes the key */
  value: string | undefined;
}

export interface Entry {
  rev: number;
  value: string | undefined;
}

function decodeEntry(raw: string): Entry {
  const [bar] = string.find(raw, "|", 1, true);
  const rev = tonumber(string.sub(raw, 1, bar! - 1))!;
  const present = string.sub(raw, bar! + 1, bar! + 1) === "P";
  return { rev, value: present ? string.sub(raw, bar! + 3) : undefined };
}

export function read(key: string): Entry | undefined {
  const [raw] = dict.get("v|" + key);
  if (raw === undefined) return undefined;
  return decodeEntry(raw);
}

export function lastSeq(): number {
  const [n] = dict.get("seq");
  return n ?? 0;
}

export function revision(): number {
  const [n] = dict.get("rev");
  return n ?? 0;
}

/** The key event `n` changed and its revision; undefined when that event is gone (expired). */
export function eventAt(n: number): LuaMultiReturn<[string | undefined, number]> {
  const [raw] = dict.get("e|" + n);
  if (raw === undefined) return $multi(undefined, 0);
  const [bar] = string.find(raw, "|", 1, true);
  return $multi(string.sub(raw, bar! + 1), tonumber(string.sub(raw, 1, bar! - 1))!);
}

/** What a commit stored, event by event (config/journal.ts writes it to disk). */
export interface Committed {
  seq: number;
  rev: number;
  key: string;
  value: string | undefined;
}

type CommitHook = (this: void, entries: Committed[]) => string | undefined;
let commitHook: CommitHook | undefined = undefined;

/** Runs `hook` with what each commit stored, before the workers can see it. */
export function onCommit(hook: CommitHook): void {
  commitHook = hook;
}

function lock(): boolean {
  for (let i = 0; i < 5000; i++) {
    const [ok] = locks.add("store", ngx.worker.pid(), 10);
    if (ok) return true;
    ngx.sleep(0.001);
  }
  return false;
}

function unlock(): void {
  locks.delete("store");
}

/**
 * Records changes seen at etcd revision `rev`. Returns the last event number, or an error
 * (the dict is full: the operator must give elb_config more room). With mayYield (a timer
 * or a request, not init) a big batch lets the worker's other timers run as it goes; the
 * workers take its events only once it is whole (the event count is set at the end).
 */
export function commit(changes: Change[], rev: number, mayYield?: boolean): LuaMultiReturn<[number, undefined] | [undefined, string]> {
  if (!lock()) return $multi(undefined, "the configuration store is locked by another writer");
  let seq = lastSeq();
  let err: string | undefined = undefined;
  // handed to the hook a thousand at a time: a load's 100,000 entries at once made one text
  // of tens of MiB, a peak the worker's allocator then kept
  let stored: Committed[] = [];
  const handOver = () => {
    const jerr = commitHook!(stored);
    if (jerr !== undefined) ngx.log(ngx.ERR, `journal: ${jerr}`);
    stored = [];
  };
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i];
    if (mayYield && i % 5000 === 4999) letOthersRun();
    const old = read(c.key);
    // etcd's order decides: a change no newer than what is stored is already in effect
    if (old !== undefined && old.rev >= rev) continue;
    let ok: boolean;
    let e: string | undefined;
    if (c.value !== undefined) {
      [ok, e] = dict.safe_set("v|" + c.key, `${rev}|P|${c.value}`);
    } else if (old !== undefined) {
      [ok, e] = dict.safe_set("v|" + c.key, `${rev}|D|`, TOMBSTONE_TTL);
    } else {
      continue;
    }
    if (!ok) {
      err = `elb_config shared dict: ${e}`;
      break;
    }
    seq = seq + 1;
    dict.set("e|" + seq, `${rev}|${c.key}`, EVENT_TTL);
    if (commitHook !== undefined) {
      stored.push({ seq, rev, key: c.key, value: c.value });
      if (stored.length === 1000) handOver();
    }
  }
  if (commitHook !== undefined && stored.length > 0) handOver();
  dict.set("seq", seq);
  if (rev > revision()) dict.set("rev", rev);
  unlock();
  if (err !== undefined) return $multi(undefined, err);
  return $multi(seq, undefined);
}

/** Every key with a live value (not tombstones); for a worker that starts or fell behind. */
export function allKeys(): string[] {
  const out: string[] = [];
  for (const k of dict.get_keys(0)) {
    if (string.sub(k, 1, 2) === "v|") out.push(string.sub(k, 3));
  }
  return out;
}

export function markApplied(worker: number, seq: number, rev: number): void {
  ngx.update_time();
  dict.set("w|" + worker, `${seq}|${rev}|${ngx.now()}`);
}

export interface WorkerProgress {
  event: number;
  revision: number;
  at: number;
}

export function progressOf(worker: number): WorkerProgress | undefined {
  const [raw] = dict.get("w|" + worker);
  if (raw === undefined) return undefined;
  const [e, r, t] = string.match(raw, "^(%d+)|(%d+)|(.*)$");
  return { event: tonumber(e)!, revision: tonumber(r)!, at: tonumber(t)! };
}

export function appliedBy(worker: number): number {
  const p = progressOf(worker);
  return p === undefined ? -1 : p.event;
}

/** The revision up to which every change was seen (by the load and the watch). */
export function watchedRevision(): number {
  const [n] = dict.get("s|watch_rev");
  return n ?? 0;
}

export function setWatchedRevision(rev: number): void {
  if (rev > watchedRevision()) dict.set("s|watch_rev", rev);
}

/**
 * Forgets the revisions (keeping the values): etcd's revision went back (etcd was replaced or
 * restored from a backup), so its revisions can no longer be compared with ours.
 */
export function rebase(): void {
  if (!lock()) return;
  for (const key of allKeys()) {
    const e = read(key);
    if (e !== undefined && e.value !== undefined) dict.set("v|" + key, `0|P|${e.value}`);
    else dict.delete("v|" + key);
  }
  dict.set("rev", 0);
  dict.set("s|watch_rev", 0);
  unlock();
}

/** Forgets everything (the node's name changed across a reload). */
export function clear(): void {
  dict.flush_all();
}

// The invalid keys are few: their names are also listed under one key ("xlist"), so that
// the status API never scans the dict (get_keys locks it for every worker). Each name is
// written "<length>:<key>": an etcd key may hold any byte, a newline too.

function invalidList(): string[] {
  const [list] = dict.get("xlist");
  const out: string[] = [];
  const text = (list as string | undefined) ?? "";
  let pos = 1;
  while (pos <= text.length) {
    const [n, start] = string.match(text, "^(%d+):()", pos);
    if (n === undefined) break;
    const from = tonumber(start)!;
    out.push(string.sub(text, from, from + tonumber(n)! - 1));
    pos = from + tonumber(n)!;
  }
  return out;
}

function setInvalidList(keys: string[]): void {
  const parts: string[] = [];
  for (const k of keys) parts.push(`${k.length}:${k}`);
  dict.set("xlist", table.concat(parts));
}

/** Records a value from etcd that failed validation (shown by the status API). */
export function markInvalid(key: string, rev: number, error: string): void {
  const [had] = dict.get("x|" + key);
  dict.set("x|" + key, `${rev}|${error}`);
  if (had === undefined) {
    const keys = invalidList();
    keys.push(key);
    setInvalidList(keys);
  }
}

export function clearInvalid(key: string): void {
  const [had] = dict.get("x|" + key);
  if (had === undefined) return;
  dict.delete("x|" + key);
  const keep: string[] = [];
  for (const k of invalidList()) if (k !== key) keep.push(k);
  setInvalidList(keep);
}

/** The values from etcd that failed validation, by key: {revision, error}. */
export function invalidKeys(): LuaTable<string, { revision: number; error: string }> {
  const out = new LuaTable<string, { revision: number; error: string }>();
  for (const k of invalidList()) {
    const [raw] = dict.get("x|" + k);
    if (raw !== undefined) {
      const [bar] = string.find(raw, "|", 1, true);
      out.set(k, { revision: tonumber(string.sub(raw, 1, bar! - 1))!, error: string.sub(raw, bar! + 1) });
    }
  }
  return out;
}

export function setStatus(name: string, value: string | number | boolean): void {
  dict.set("s|" + name, value);
}

export function getStatus(name: string): any {
  const [v] = dict.get("s|" + name);
  return v;
}
