// The last known good configuration on disk, so a node starts and serves even when etcd is
// down: a base ($ELB_PREFIX/state/snapshot) and the journal of every change taken since
// (config/journal.ts). The journal is written as each change enters the node's store, before
// any worker applies it, so an acknowledged change survives a graceful stop and a crash of
// the process; it is flushed to the disk every 0.1 s. The leader rewrites the base once
// changes are quiet for a second (at least every 10 s while they go on), atomically (a temp
// file flushed and renamed over the old one), and then drops the journal files it covers.
// The base's format is made to be written and read fast at 100,000 domains without JSON:
//   ELB-SNAPSHOT 2 <revision> <event> <count>\n  then per key  <key length> <value length>\n<key><value>\n
// <event> is the store's event number the base holds everything up to; journal entries after
// it are replayed over the base at start.
import { checkStored, Verdicts } from "../core/kinds/index";
import { eachStored } from "./apply";
import * as journal from "./journal";
import { holds } from "../node/leader";
import { settings } from "../node/settings";
import * as store from "./store";
import { Change } from "./store";
import { appliedRevision, appliedSeq as lastEventSeen, poll } from "./sync";
import { letOthersRun } from "../node/pause";
import { release } from "./garbage";

export function path(): string {
  return `${settings.prefix}/state/snapshot`;
}

// every commit is journaled, from the first one of a worker that leads (its initial load
// included); in the master, restore()'s own commit is folded into the new base at once
store.onCommit(journal.append);

/** Writes a base holding `keys`/`values` at `rev`, up to event `seq`; yields when it may. */
function writeBase(keys: string[], values: string[], rev: number, seq: number, mayYield: boolean): string | undefined {
  const tmp = `${path()}.tmp`;
  const [f, err] = io.open(tmp, "wb");
  if (f === undefined) return `cannot write ${tmp}: ${err}`;
  f.write(`ELB-SNAPSHOT 2 ${rev} ${seq} ${keys.length}\n`);
  // Each entry goes out as pieces, never concatenated: 100,000 near-identical new strings
  // would each be interned by LuaJIT, and its string hash collides on such strings.
  for (let i = 0; i < keys.length; i++) {
    f.write(keys[i].length, " ", values[i].length, "\n", keys[i], values[i], "\n");
    if (mayYield && i % 1000 === 999) letOthersRun();
  }
  f.close();
  const serr = journal.syncFile(tmp);
  if (serr !== undefined) return serr;
  const [ok, rerr] = os.rename(tmp, path());
  if (!ok) return `cannot rename ${tmp}: ${rerr}`;
  return undefined;
}

/**
 * Rewrites the base from what this worker routes by (the leader's view: no scan of the shared
 * dict, which would lock it for every worker), then drops the journal files it covers.
 */
export function write(): string | undefined {
  const rotated = journal.rotate();
  poll();
  const seq = lastEventSeen();
  const rev = appliedRevision();
  // collected whole before any yield: the view may change while the file is written
  const keys: string[] = [];
  const values: string[] = [];
  eachStored((key: string, value: string) => {
    keys.push(key);
    values.push(value);
  });
  const err = writeBase(keys, values, rev, seq, true);
  release(keys);
  release(values);
  if (err !== undefined) return err;
  // a rotated file may hold a change taken after `seq` (committed, not applied yet): kept
  for (const file of journal.files()) {
    if (file !== journal.path() && journal.lastSeq(file) <= seq) os.remove(file);
  }
  if (rotated !== undefined && journal.lastSeq(rotated) > seq) ngx.log(ngx.INFO, `snapshot: ${rotated} kept (changes after event ${seq})`);
  return undefined;
}

/** How long changes must be quiet before the base is rewritten, and the longest wait. */
const QUIET = 1;
const AT_MOST_EVERY = 10;

/** A leader task: journals every change, flushes the journal, rewrites the base once changes are quiet. */
export function run(this: void, premature: boolean, term: number): void {
  if (premature) return;
  ngx.update_time();
  let seen = lastEventSeen();
  let changedAt = ngx.now();
  let pendingSince = ngx.now();
  while (holds(term) && !ngx.worker.exiting()) {
    ngx.sleep(journal.SYNC_EVERY);
    const serr = journal.sync();
    if (serr !== undefined) ngx.log(ngx.ERR, `journal: ${serr}`);
    ngx.update_time();
    const now = ngx.now();
    const seq = lastEventSeen();
    if (seq !== seen) {
      seen = seq;
      changedAt = now;
      if (pendingSince === 0) pendingSince = now;
    }
    if (pendingSince !== 0 && (now - changedAt >= QUIET || now - pendingSince >= AT_MOST_EVERY)) {
      pendingSince = 0;
      const err = write();
      if (err !== undefined) ngx.log(ngx.ERR, `snapshot: ${err}`);
    }
  }
  journal.sync();
}

export interface Snapshot {
  revision: number;
  /** the store event the base holds everything up to (0 for a base of format 1) */
  seq: number;
  changes: Change[];
}

/** Reads a base; undefined (with a reason) when there is none or it is damaged. */
export function read(file: string): LuaMultiReturn<[Snapshot, undefined] | [undefined, string]> {
  const [f] = io.open(file, "rb");
  if (f === undefined) return $multi(undefined, "no snapshot");
  const text = f.read("*a") as string | undefined;
  f.close();
  if (text === undefined) return $multi(undefined, "empty snapshot");
  let [rev, seq, count, headerEnd] = string.match(text, "^ELB%-SNAPSHOT 2 (%d+) (%d+) (%d+)\n()");
  if (rev === undefined) {
    // format 1: no event number
    [rev, count, headerEnd] = string.match(text, "^ELB%-SNAPSHOT 1 (%d+) (%d+) *\n()");
    seq = "0";
  }
  if (rev === undefined) return $multi(undefined, "not a snapshot file");
  const changes: Change[] = [];
  let pos = tonumber(headerEnd)!;
  const n = tonumber(count)!;
  for (let i = 0; i < n; i++) {
    const [klen, vlen, body] = string.match(text, "^(%d+) (%d+)\n()", pos);
    if (klen === undefined) return $multi(undefined, `damaged at entry ${i + 1}`);
    const start = tonumber(body)!;
    const keyEnd = start + tonumber(klen)! - 1;
    const valueEnd = keyEnd + tonumber(vlen)!;
    if (string.sub(text, valueEnd + 1, valueEnd + 1) !== "\n") return $multi(undefined, `damaged at entry ${i + 1}`);
    changes.push({ key: string.sub(text, start, keyEnd), value: string.sub(text, keyEnd + 1, valueEnd) });
    pos = valueEnd + 2;
  }
  return $multi({ revision: tonumber(rev)!, seq: tonumber(seq)!, changes }, undefined);
}

/**
 * At start (init_by_lua, before the workers), when the store is empty: fills it from the base
 * and the journal replayed over it, each value validated again. The watcher then continues
 * from its revision. The journal is then folded into a new base (event numbers start again
 * with this run).
 */
export function restore(): string {
  const [snap, why] = read(path());
  const base: Snapshot = snap ?? { revision: 0, seq: 0, changes: [] };
  const entries: journal.Entry[] = [];
  for (const file of journal.files()) {
    for (const e of journal.readFile(file)) if (e.seq > base.seq) entries.push(e);
  }
  if (snap === undefined && entries.length === 0) return why!;
  table.sort(entries, (a, b) => a.seq < b.seq);
  const state = new LuaTable<string, string>();
  const order: string[] = [];
  const note = (key: string, value: string | undefined): void => {
    if (value !== undefined && !state.has(key)) order.push(key);
    if (value === undefined) state.delete(key);
    else state.set(key, value);
  };
  let rev = base.revision;
  for (const c of base.changes) note(c.key, c.value);
  for (const e of entries) {
    note(e.key, e.value);
    if (e.rev > rev) rev = e.rev;
  }
  const valid: Change[] = [];
  const known: Verdicts = {};
  const keys: string[] = [];
  const values: string[] = [];
  for (const key of order) {
    const value = state.get(key);
    if (value !== undefined && checkStored(settings.elbName, key, value, known).length === 0) {
      state.delete(key); // listed once
      valid.push({ key, value });
      keys.push(key);
      values.push(value);
    }
  }
  const [, err] = store.commit(valid, rev);
  if (err !== undefined) return err;
  store.setWatchedRevision(rev);
  const werr = writeBase(keys, values, rev, store.lastSeq(), false);
  if (werr === undefined) {
    for (const file of journal.files()) os.remove(file);
  } else {
    ngx.log(ngx.ERR, `snapshot: ${werr}`);
  }
  return `restored ${valid.length} keys at revision ${rev} from ${path()} and ${entries.length} journal entries`;
}
