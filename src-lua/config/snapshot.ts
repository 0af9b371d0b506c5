// The last known good configuration on disk ($ELB_PREFIX/state/snapshot), so a node starts
// and serves even when etcd is down. Written by the leader after changes (at most once a
// second), atomically: a temp file renamed over the old one. The format is made to be
// written and read fast at 100,000 domains without JSON:
//   ELB-SNAPSHOT 1 <revision> <count>\n  then per key  <key length> <value length>\n<key><value>\n
import { settings } from "./settings";
import * as store from "./store";
import { Change } from "./store";
import { checkStoredValue } from "./validate";

const MAGIC = "ELB-SNAPSHOT 1";

export function path(): string {
  return `${settings.prefix}/state/snapshot`;
}

/** Writes the store's live values; returns an error message on failure. */
export function write(): string | undefined {
  const keys = store.allKeys();
  table.sort(keys);
  const parts: string[] = [];
  let count = 0;
  for (const key of keys) {
    const e = store.read(key);
    if (e !== undefined && e.value !== undefined) {
      parts.push(`${key.length} ${e.value.length}\n${key}${e.value}\n`);
      count += 1;
    }
  }
  const tmp = `${path()}.tmp`;
  const [f, err] = io.open(tmp, "wb");
  if (f === undefined) return `cannot write ${tmp}: ${err}`;
  f.write(`${MAGIC} ${store.watchedRevision()} ${count}\n`);
  f.write(table.concat(parts));
  f.close();
  const [ok, rerr] = os.rename(tmp, path());
  if (!ok) return `cannot rename ${tmp}: ${rerr}`;
  return undefined;
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
  const [rev, count, headerEnd] = string.match(text, "^ELB%-SNAPSHOT 1 (%d+) (%d+)\n()");
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
    if (checkStoredValue(c.key, c.value!).length === 0) valid.push(c);
  }
  const [, err] = store.commit(valid, snap.revision);
  if (err !== undefined) return err;
  store.setWatchedRevision(snap.revision);
  return `restored ${valid.length} keys at revision ${snap.revision} from ${path()}`;
}
