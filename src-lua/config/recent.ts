// The node's last configuration changes, for GET /__erulb__/changes (the dashboard): a ring of
// SIZE entries in the elb_config dict, written by the leading worker as the watch commits
// (config/watcher.ts) and after a full load (config/loader.ts). Keys:
//   r|seq = the number of the last entry;  r|<n % SIZE> = "<n>|<revision>|<time>|<type>|<key>|<note>"
// type: put, delete, invalid (a value refused and skipped; note: why), load (note: what changed).
const dict = ngx.shared.elb_config!;
const SIZE = 64;

export function record(rev: number, type: string, key: string, note: string): void {
  const [n] = dict.incr("r|seq", 1, 0);
  if (n === undefined) return;
  ngx.update_time();
  dict.set(`r|${n % SIZE}`, `${n}|${rev}|${ngx.now()}|${type}|${key}|${note}`);
}

export interface RecentChange {
  revision: number;
  at: number;
  type: string;
  key: string;
  note: string;
}

/** The last changes, newest first (at most `max`, at most SIZE). */
export function recent(max: number): RecentChange[] {
  const out: RecentChange[] = [];
  const [last] = dict.get("r|seq");
  if (last === undefined) return out;
  const lastN = last as number;
  for (let n = lastN; n > 0 && n > lastN - SIZE && out.length < max; n--) {
    const [raw] = dict.get(`r|${n % SIZE}`);
    if (raw === undefined) continue;
    const [seq, rev, at, type, key, note] = string.match(raw as string, "^(%d+)|(%d+)|([^|]*)|([^|]*)|([^|]*)|(.*)$");
    // an entry overwritten meanwhile by a newer one is skipped
    if (seq === undefined || tonumber(seq) !== n) continue;
    out.push({ revision: tonumber(rev)!, at: tonumber(at) ?? 0, type: type!, key: key!, note: note ?? "" });
  }
  return out;
}
