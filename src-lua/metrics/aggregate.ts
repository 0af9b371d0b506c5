// The Prometheus counters of one worker, kept in plain Lua tables on the hot path: requests by
// domain label and status class with a duration histogram, requests by upstream server and
// status class, passive failures by server. Nothing here touches a shared dict: metrics/flush.ts
// adds what was counted to the elb_metrics dict on a timer and starts the tables afresh. Plain Lua.

/** Upper bounds of the request duration buckets (seconds); the last one is +Inf. */
export const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, math.huge];

/** Status classes: index 1..5 for 1xx..5xx, 0 for a status outside 100..599 (none was sent). */
export const CLASSES = ["unknown", "1xx", "2xx", "3xx", "4xx", "5xx"];

/** The label of requests whose Host matched no domain (they are counted, under this name). */
export const UNMATCHED = "unmatched";
/** The label of the domains beyond ELB_METRICS_MAX_DOMAINS. */
export const OTHER = "other";

/**
 * The domains that have a label of their own, as this worker last saw the node's (flush.ts keeps
 * it in step). A domain not in it counts under its own name while the node has labels left
 * (the flush then gives it one, or folds it into OTHER), else under OTHER at once: with the Host
 * spread over 100,000 domains, the counting and the flush cost one tally per label, not per domain.
 */
let labels = new LuaTable<string, boolean>();
labels.set(UNMATCHED, true);
export const room = { left: true };

export function hasLabel(name: string): boolean {
  return labels.get(name) === true;
}

export function giveLabel(name: string): void {
  labels.set(name, true);
}

export function forgetLabels(): void {
  labels = new LuaTable();
  labels.set(UNMATCHED, true);
}

/**
 * One domain's counts, in one array: with the Host spread over many domains most get one
 * request per interval, and each costs one table rather than three. Slots (TALLY): codes +
 * class (CLASSES), buckets + bucket (BOUNDS, not cumulative), sum (seconds, summed).
 */
export type Tally = number[];
const CODES = 0;
const BUCKETS = 6;
const SUM = 18;
/** where a Tally's parts start (the hot path uses the locals above, not table reads) */
export const TALLY = { codes: CODES, buckets: BUCKETS, sum: SUM };

export const settings = { enabled: false };

let byDomain = new LuaTable<string, Tally>();
let byServer = new LuaTable<string, number[]>();
let failures = new LuaTable<string, number>();

function newTally(): Tally {
  // 6 classes, 12 buckets, the sum
  return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
}

/**
 * The bucket of a duration, from bucket i on. A tail call rather than a loop: the log phase's
 * LuaJIT trace records it inline (an inner loop would abort that trace).
 */
function bucketOf(seconds: number, i: number): number {
  if (seconds > BOUNDS[i]) return bucketOf(seconds, i + 1);
  return i;
}

/**
 * A request ended: domain `name` (the configured domain's name, or UNMATCHED) answered `status`
 * after `seconds`; `server` is the key ("<upstream>|<host:port>") of the server its last try
 * went to, if any ("<upstream>|" when none could be picked: flush.ts skips it).
 */
export function count(name: string, server: string | undefined, status: number, seconds: number): void {
  let c = math.floor(status / 100);
  if (c < 1 || c > 5) c = 0;
  const label = labels.get(name) === true || room.left ? name : OTHER;
  let t = byDomain.get(label);
  if (t === undefined) {
    t = newTally();
    byDomain.set(label, t);
  }
  t[CODES + c] = t[CODES + c] + 1;
  const i = BUCKETS + bucketOf(seconds, 0);
  t[i] = t[i] + 1;
  t[SUM] = t[SUM] + seconds;
  if (server === undefined) return;
  let codes = byServer.get(server);
  if (codes === undefined) {
    codes = [0, 0, 0, 0, 0, 0];
    byServer.set(server, codes);
  }
  codes[c] = codes[c] + 1;
}

/** Passive health counted a failure of server `key` (a connect error, a timeout, a fail_status). */
export function failed(key: string): void {
  failures.set(key, (failures.get(key) ?? 0) + 1);
}

export interface Batch {
  domains: LuaTable<string, Tally>;
  servers: LuaTable<string, number[]>;
  failures: LuaTable<string, number>;
}

/** What was counted since the last call; the counting starts afresh. */
export function take(): Batch {
  const b: Batch = { domains: byDomain, servers: byServer, failures };
  byDomain = new LuaTable();
  byServer = new LuaTable();
  failures = new LuaTable();
  return b;
}
