// The last known good configuration on disk ($ELB_PREFIX/state/snapshot), so a node starts
// and serves even when etcd is down. Written by the leader once changes are quiet for a
// second (at least every 10 s while they go on), atomically: a temp file renamed over the
// old one. The format is made to be
// written and read fast at 100,000 domains without JSON:
//   ELB-SNAPSHOT 1 <revision> <count>\n  then per key  <key length> <value length>\n<key><value>\n
import { checkStored } from "../core/kinds/index";
import { eachStored } from "./apply";
import { holds } from "../node/leader";
import { settings } from "../node/settings";
import * as store from "./store";
import { Change } from "./store";
import { appliedRevision, appliedSeq as lastEventSeen } from "./sync";
import { letOthersRun } from "../node/pause";

const MAGIC = "ELB-SNAPSHOT 1";

export function path(): string {
  return `${settings.prefix}/state/snapshot`;
}

/**
 * Writes what this worker routes by (the leader's view: no scan of the shared dict, which
 * would lock it for every worker). Yields every thousand entries, so that at 100,000
 * domains the worker's other timers (the watch, the event log) keep running meanwhile.
 */
export function write(): string | undefined {
  const rev = appliedRevision();
  const tmp = `${path()}.tmp`;
  const [f, err] = io.open(tmp, "wb");
  if (f === undefined) return `cannot write ${tmp}: ${err}`;
  // The count goes in the header, known only at the end: leave room and fill it in then.
  f.write(`${MAGIC} ${rev} `, string.rep(" ", 12), "\n");
  let count = 0;
  // Each entry goes out as pieces, never concatenated: 100,000 near-identical new strings
  // would each be interned by LuaJIT, and its string hash collides on such strings.
  const add = (key: string, value: string): void => {
    f.write(key.length, " ", value.length, "\n", key, value, "\n");
    count += 1;
    if (count % 1000 === 0) letOthersRun();
  };
  eachStored(add);
  f.seek("set", `${MAGIC} ${rev} `.length);
  f.write(string.format("%-12d", count));
  f.close();
  const [ok, rerr] = os.rename(tmp, path());
  if (!ok) return `cannot rename ${tmp}: ${rerr}`;
  return undefined;
}

/** How long changes must be quiet before the snapshot is written, and the longest wait. */
const QUIET = 1;
const AT_MOST_EVERY = 10;

/** A leader task: rewrites the snapshot once changes are quiet (and when it starts to lead). */
export function run(this: void, premature: boolean, term: number): void {
  if (premature) return;
  ngx.update_time();
  let seen = lastEventSeen();
  let changedAt = ngx.now();
  let pendingSince = ngx.now();
  while (holds(term) && !ngx.worker.exiting()) {
    ngx.sleep(0.5);
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
}

export interface Snapshot {
  revision: number;
  changes: Change[];
}

/** Reads the snapshot file; undefined (with a reason) when there is none or it is damaged. */
export function read(file: string): LuaMultiReturn<[Snapshot, undefined] | [undefined, string]> {
  const [f] = io.open(file, "rb");
  if (f === undefined) return $multi(undefined, "no snapshot");
  const text = f.read("*a") as string | undefined;
  f.close();
  if (text === undefined) return $multi(undefined, "empty snapshot");
  const [rev, count, headerEnd] = string.match(text, "^ELB%-SNAPSHOT 1 (%d+) (%d+) *\n()");
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
  return $multi({ revision: tonumber(rev)!, changes }, undefined);
}

/**
 * At start (init_by_lua, before the workers), when the store is empty: fills it from the
 * snapshot, each value validated again. The watcher then continues from its revision.
 */
export function restore(): string {
  const [snap, why] = read(path());
  if (snap === undefined) return why!;
  const valid: Change[] = [];
  for (const c of snap.changes) {
    if (checkStored(settings.elbName, c.key, c.value!).length === 0) valid.push(c);
  }
  const [, err] = store.commit(valid, snap.revision);
  if (err !== undefined) return err;
  store.setWatchedRevision(snap.revision);
  return `restored ${valid.length} keys at revision ${snap.revision} from ${path()}`;
}
