// statsd, with the Eru names: <ELBNAME>.<host with dots as _>.total (counter),
// .status.<code> (counter) and .cost (timer, ms). Each worker aggregates in a table
// (record() is plain Lua, on the log phase) and a timer sends everything every 100 ms in
// datagrams of at most 1400 bytes. Timings beyond SAMPLES per name and interval are
// reservoir-sampled and sent with a sample rate, so the packet count does not grow with
// the request rate.

const MAX_DATAGRAM = 1400;
const SAMPLES = 64;
const INTERVAL = 0.1;

interface Aggregate {
  total: number;
  statuses: LuaTable<number, number>;
  costs: number[];
  seen: number;
}

let pending = new LuaTable<string, Aggregate>();

export function record(metric: string, status: number, costMs: number): void {
  let a = pending.get(metric);
  if (a === undefined) {
    a = { total: 0, statuses: new LuaTable(), costs: [], seen: 0 };
    pending.set(metric, a);
  }
  a.total = a.total + 1;
  const st = a.statuses;
  st.set(status, (st.get(status) ?? 0) + 1);
  const seen = a.seen + 1;
  a.seen = seen;
  if (seen <= SAMPLES) {
    a.costs[seen - 1] = costMs;
  } else {
    const slot = math.random(1, seen);
    if (slot <= SAMPLES) a.costs[slot - 1] = costMs;
  }
}

/** The statsd lines for what was recorded since the last call (and forgets it). */
export function drain(): string[] {
  const batch = pending;
  pending = new LuaTable();
  const lines: string[] = [];
  for (const [metric, a] of batch) {
    lines.push(`${metric}.total:${a.total}|c`);
    for (const [code, n] of a.statuses) lines.push(`${metric}.status.${code}:${n}|c`);
    const kept = a.costs.length;
    const rate = a.seen > kept ? string.format("|@%.4f", kept / a.seen) : "";
    for (const c of a.costs) lines.push(`${metric}.cost:${string.format("%.3f", c)}|ms${rate}`);
  }
  return lines;
}

/** Packs lines into datagrams of at most MAX_DATAGRAM bytes. */
export function pack(lines: string[]): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  let size = 0;
  for (const line of lines) {
    const add = line.length + (cur.length > 0 ? 1 : 0);
    if (size + add > MAX_DATAGRAM && cur.length > 0) {
      out.push(cur.join("\n"));
      cur = [];
      size = 0;
    }
    cur.push(line);
    size = size + line.length + (cur.length > 1 ? 1 : 0);
  }
  if (cur.length > 0) out.push(cur.join("\n"));
  return out;
}

/** Sends what is pending; returns false when the socket failed (and was closed). */
function flush(sock: NgxUdpSocket): boolean {
  const lines = drain();
  if (lines.length === 0) return true;
  for (const d of pack(lines)) {
    const [ok, err] = sock.send(d);
    if (!ok) {
      ngx.log(ngx.ERR, `statsd send: ${err}`);
      sock.close();
      return false;
    }
  }
  return true;
}

// A cosocket lives only as long as the timer run that made it, so one timer runs for the
// worker's life, keeping its socket, and flushes every INTERVAL; a last flush on exit.
function loop(this: void, premature: boolean, host: string, port: number): void {
  let sock: NgxUdpSocket | undefined = undefined;
  for (;;) {
    if (sock === undefined) {
      const s = ngx.socket.udp();
      const [ok, err] = s.setpeername(host, port);
      if (ok) sock = s;
      else ngx.log(ngx.ERR, `statsd ${host}:${port}: ${err}`);
    }
    if (sock !== undefined && !flush(sock)) sock = undefined;
    if (premature || ngx.worker.exiting()) break;
    ngx.sleep(INTERVAL);
    premature = ngx.worker.exiting();
  }
  if (sock !== undefined) sock.close();
}

export let enabled = false;

export function start(host: string, port: number): void {
  enabled = true;
  ngx.timer.at(0, loop, host, port);
}
