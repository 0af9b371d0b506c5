// statsd, with the Eru names: <ELBNAME>.<host with dots as _>.total (counter),
// .status.<code> (counter) and .cost (timer, ms); * in a wildcard's name is "wildcard"
// (*.example.com: wildcard_example_com). Each worker aggregates by domain name in a table
// (record() is plain Lua, on the log phase) and a timer sends everything every 100 ms in
// datagrams of at most 1400 bytes (drain()). Timings beyond SAMPLES per name and interval are
// reservoir-sampled and sent with a sample rate, so the packet count does not grow with
// the request rate.

const MAX_DATAGRAM = 1400;
const SAMPLES = 64;
const INTERVAL = 0.1;

// With the Host spread over many domains, most names get one request per interval: the first
// status and cost are kept in the aggregate itself, so such a name costs one table, not three
// (every one of them is garbage by the next interval).
interface Aggregate {
  total: number;
  status: number;
  statusCount: number;
  /** the other statuses, once a second one is seen */
  statuses: LuaTable<number, number> | undefined;
  cost: number;
  /** all the costs kept, once a second one is seen */
  costs: number[] | undefined;
  seen: number;
}

let pending = new LuaTable<string, Aggregate>();
/** "<ELBNAME>.", before every name (start() sets it) */
let prefix = "ELB.";

/** Counts a request to domain `name` (as stored) that answered `status` in `costMs`. */
export function record(name: string, status: number, costMs: number): void {
  const a = pending.get(name);
  if (a === undefined) {
    pending.set(name, { total: 1, status, statusCount: 1, statuses: undefined, cost: costMs, costs: undefined, seen: 1 });
    return;
  }
  a.total = a.total + 1;
  if (status === a.status) {
    a.statusCount = a.statusCount + 1;
  } else {
    let st = a.statuses;
    if (st === undefined) {
      st = new LuaTable();
      a.statuses = st;
    }
    st.set(status, (st.get(status) ?? 0) + 1);
  }
  const seen = a.seen + 1;
  a.seen = seen;
  let costs = a.costs;
  if (costs === undefined) {
    costs = [a.cost];
    a.costs = costs;
  }
  if (seen <= SAMPLES) {
    costs[seen - 1] = costMs;
  } else {
    const slot = math.random(1, seen);
    if (slot <= SAMPLES) costs[slot - 1] = costMs;
  }
}

// Datagrams of at most MAX_DATAGRAM bytes, being filled. A line goes in as its pieces (the
// name, the value, the type), never built as a string of its own: only the datagrams are.
let datagrams: string[] = [];
const pieces: string[] = [];
let used = 0;
let size = 0;

function cut(): void {
  if (used === 0) return;
  datagrams.push(table.concat(pieces, "", 1, used));
  used = 0;
  size = 0;
}

function line(name: string, suffix: string, value: string, type: string): void {
  const len = name.length + suffix.length + 1 + value.length + type.length;
  if (used > 0 && size + 1 + len > MAX_DATAGRAM) cut();
  let n = used;
  if (n > 0) {
    pieces[n] = "\n";
    n += 1;
    size += 1;
  }
  pieces[n] = name;
  pieces[n + 1] = suffix;
  pieces[n + 2] = ":";
  pieces[n + 3] = value;
  pieces[n + 4] = type;
  used = n + 5;
  size += len;
}

/** The statsd datagrams for what was recorded since the last call (and forgets it). */
export function drain(): string[] {
  const batch = pending;
  pending = new LuaTable();
  datagrams = [];
  for (const [name, a] of batch) {
    // made here, once per name and interval, rather than kept per domain by every worker
    let [metric] = string.gsub(name, "%.", "_");
    if (string.byte(metric, 1) === 42) [metric] = string.gsub(metric, "%*", "wildcard");
    metric = prefix + metric;
    line(metric, ".total", tostring(a.total), "|c");
    line(metric, `.status.${a.status}`, tostring(a.statusCount), "|c");
    if (a.statuses !== undefined) for (const [code, n] of a.statuses) line(metric, `.status.${code}`, tostring(n), "|c");
    if (a.costs === undefined) {
      line(metric, ".cost", string.format("%.3f", a.cost), "|ms");
    } else {
      const kept = a.costs.length;
      const type = a.seen > kept ? string.format("|ms|@%.4f", kept / a.seen) : "|ms";
      for (const c of a.costs) line(metric, ".cost", string.format("%.3f", c), type);
    }
  }
  cut();
  return datagrams;
}

/** Sends what is pending; returns false when the socket failed (and was closed). */
function flush(sock: NgxUdpSocket): boolean {
  for (const d of drain()) {
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

export function start(host: string, port: number, elbName: string): void {
  enabled = true;
  prefix = `${elbName}.`;
  ngx.timer.at(0, loop, host, port);
}
